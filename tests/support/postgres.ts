/**
 * A throwaway PostgreSQL server for one test file: `initdb` into a temporary
 * directory, a free port on 127.0.0.1, run as the `postgres` user when the
 * tests run as root, stopped (and its directory removed) by `close()` or when
 * the process exits. With DATABASE_URL set, that server is used instead and
 * cannot be stopped or restarted (`external` is true).
 *
 *   const pgTest = testUnless(postgresUnavailable(), "PostgreSQL tests");   // support/skip.ts
 *   test.before(async () => { pg = await startPostgres(); });
 *   test.after(() => pg.close());
 */

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export interface TestPostgres {
  /** postgres://… of a database no other test file uses. */
  url: string;
  /** True when DATABASE_URL named the server: it cannot be stopped by the test. */
  external: boolean;
  /** Stops the server (fast shutdown: open connections are cut). */
  stop(): void;
  /** Starts it again on the same port and data. */
  start(): void;
  close(): Promise<void>;
}

/** Where initdb and pg_ctl are: PG_BIN_DIR, Debian's /usr/lib/postgresql/<newest>/bin, or the PATH. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv && existsSync(join(fromEnv, "initdb"))) return fromEnv;
  let versions: string[] = [];
  try {
    versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  } catch { /* not Debian's layout */ }
  for (const version of versions) {
    const dir = join("/usr/lib/postgresql", version, "bin");
    if (existsSync(join(dir, "initdb"))) return dir;
  }
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  const found = which.status === 0 ? which.stdout.trim() : "";
  return found ? found.slice(0, found.lastIndexOf("/")) : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Why there is no PostgreSQL for the tests, or undefined when there is one. */
export function postgresUnavailable(): string | undefined {
  if (process.env.DATABASE_URL || postgresBinDir()) return undefined;
  return "no PostgreSQL binaries (initdb, pg_ctl) on this machine and DATABASE_URL is not set; install Debian's postgresql package";
}

/**
 * Why a test that stops or restarts the server cannot run: no PostgreSQL, or
 * DATABASE_URL names a server the test does not own. Undefined when it can.
 */
export function postgresNotOwned(): string | undefined {
  return postgresUnavailable() ?? (process.env.DATABASE_URL ? "DATABASE_URL names a server this test cannot stop or restart" : undefined);
}

export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.DATABASE_URL;
  if (external) {
    return { url: external, external: true, stop() {}, start() {}, close: async () => {} };
  }
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresUnavailable());
  const asRoot = process.getuid?.() === 0;
  const base = mkdtempSync(join(tmpdir(), "hono-replay-pg-"));
  const data = join(base, "data");
  const log = join(base, "server.log");
  if (asRoot) {
    chmodSync(base, 0o755);
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(base, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] : [join(bin, tool), args];
    const result = spawnSync(cmd, argv, { encoding: "utf8", cwd: base });
    if (result.status !== 0) {
      let serverLog = "";
      try {
        serverLog = execFileSync("tail", ["-n", "20", log], { encoding: "utf8" });
      } catch { /* no log yet */ }
      throw new Error(`${tool} ${args.join(" ")} failed (${result.status}): ${result.stderr || result.stdout}\n${serverLog}`);
    }
  };
  const port = await freePort();
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
  // fsync off: a throwaway server; the tests stop it cleanly (fast shutdown writes everything out).
  const options = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100`;
  let running = false;
  const start = () => {
    run("pg_ctl", ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]);
    running = true;
  };
  const stop = () => {
    if (!running) return;
    run("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"]);
    running = false;
  };
  const onExit = () => {
    try {
      stop();
    } catch { /* best effort */ }
    rmSync(base, { recursive: true, force: true });
  };
  process.on("exit", onExit);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    external: false,
    stop,
    start,
    async close() {
      process.off("exit", onExit);
      onExit();
    },
  };
}
