/**
 * For the fault tests: server processes started and killed for real, and a
 * visitor that keeps cookies and remembers what it was served and when.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import * as assert from "uvu/assert";
import type { Recording } from "../mod.ts";
import { resolveFidelityKey } from "../recorder/fidelity.ts";

export const root = fileURLToPath(new URL("..", import.meta.url));

export interface ServerProcess {
  pid: number;
  origin: string;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or the signal) when it ends. */
  exited: Promise<number | string>;
  kill(signal: "SIGKILL" | "SIGTERM"): Promise<number | string>;
}

/**
 * Starts `script` (relative to the repository) on this test's runtime, the
 * way `npm run demo` / `deno task demo` would, and waits for it to print the
 * URL it listens on.
 */
/** The secret every test server shares, as instances sharing a store must (signed session ids, the fidelity key). */
export const SHARED_SECRET = "faults-test-shared-secret";
/** The fidelity key the test servers hash frames with: a Player verifies with it. */
export const FIDELITY_KEY = resolveFidelityKey(undefined, SHARED_SECRET);

/** Server processes share HONO_REPLAY_SECRET, as instances sharing a store must (signed session ids). */
export function startServer(
  script: string,
  env: Record<string, string>,
  /** `wrap`: a command the server runs under (e.g. `unshare …`); `denoPermissions`: instead of -A. */
  options: { wrap?: string[]; denoPermissions?: string[] } = {},
): Promise<ServerProcess> {
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno;
  const [runtime, args] = deno
    ? [deno.execPath(), ["run", ...(options.denoPermissions ?? ["-A"]), "--quiet", script]]
    : [process.execPath, ["--import", "tsx", script]];
  const [cmd, ...argv] = [...(options.wrap ?? []), runtime, ...args];
  const child = spawn(cmd, argv, { cwd: root, env: { HONO_REPLAY_SECRET: SHARED_SECRET, ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let gone = false;
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => ((gone = true), resolve(code ?? signal ?? "?"))));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not start within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = output.match(/on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (match && timer) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.stdout!.on("data", (more) => (output += more));
        resolve({
          pid: child.pid!,
          origin: match[1],
          output: () => output,
          exited,
          kill(signal) {
            // By pid, not child.kill(): Deno's child_process reports a child it signalled as killed
            // by the signal even when the child handled it and exited with a code of its own.
            try {
              if (!gone) process.kill(child.pid!, signal);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error; // it exited just now
            }
            return exited;
          },
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk) => (output += chunk));
    void exited.then((code) => reject(new Error(`${script} exited (${code}) before it listened:\n${output}`)));
  });
}

/**
 * The fault server processes (tests/faults_server.ts) and temporary
 * directories of one test file: `cleanup()`, in the file's `after`, kills
 * (SIGKILL) every server still running and removes the directories, whatever
 * the tests did, so that nothing outlives the file.
 */
export class Fleet {
  readonly running = new Set<ServerProcess>();
  private readonly dirs: string[] = [];

  /** A new directory under the system temp dir, removed by cleanup(). */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `hono-replay-${prefix}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Paths made elsewhere, removed by cleanup() too. */
  removeLater(...paths: string[]): void {
    this.dirs.push(...paths);
  }

  async start(env: Record<string, string>, options?: Parameters<typeof startServer>[2]): Promise<ServerProcess> {
    const server = await startServer("tests/faults_server.ts", env, options);
    this.running.add(server);
    return server;
  }

  /** `count` instances on one store, quick to end recordings: idle after 3 s, 300 ms of beacon grace. */
  async startMany(count: number, env: Record<string, string>): Promise<ServerProcess[]> {
    const out: ServerProcess[] = [];
    for (let i = 0; i < count; i++) out.push(await this.start({ PORT: "0", IDLE_TIMEOUT_MS: "3000", BEACON_GRACE_MS: "300", ...env }));
    return out;
  }

  /** Sends `signal` and waits for the exit; resolves with the exit code (or the signal). */
  async stop(server: ServerProcess, signal: "SIGKILL" | "SIGTERM"): Promise<number | string> {
    const code = await server.kill(signal);
    this.running.delete(server);
    return code;
  }

  async cleanup(): Promise<void> {
    for (const server of this.running) await server.kill("SIGKILL");
    this.running.clear();
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

import type { Sent } from "./support/visitor.ts";
import { waitFor } from "./support/wait.ts";
export { type Sent, Visitor } from "./support/visitor.ts";

export { sleep } from "./support/wait.ts";

/** Waits for a server process or its storage: polls every 100 ms, up to 90 s by default. */
export const until = <T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 90_000) => waitFor(probe, what, timeoutMs, 100);

/**
 * A recovered signup recording holds the first k validations the visitor
 * sent, in order, each once — and at least every one whose response arrived a
 * second before the kill. Every frame replays byte-identical to its hash.
 */
export function assertRecoveredSignup(recording: Recording, allSent: Sent[], killedAt: number, player: { frameCount: number; renderFrame(i: number): { identical?: boolean } }) {
  assert.is(recording.recovered, true, "marked as recovered");
  const sent = allSent.filter((s) => s.path === "/signup/validate");
  const events = recording.events.filter((e) => e.kind === "event");
  const recorded = events.map((e) => (e as { params: Record<string, unknown> }).params);
  assert.ok(recorded.length <= sent.length, "nothing invented");
  recorded.forEach((params, i) => {
    assert.is(params.name, sent[i].form.name, `event ${i} is the ${i}th keystroke`);
    assert.is(params.email, sent[i].form.email, `event ${i} is the ${i}th keystroke`);
  });
  const settled = sent.filter((s) => s.at <= killedAt - 1_000).length;
  assert.ok(settled > 10, `the session ran long enough to tell (${settled} keystrokes over a second old)`);
  console.log(`recovered ${recorded.length} of ${sent.length} keystrokes; ${settled} were over a second old at the kill`);
  assert.ok(recorded.length >= settled, `lost at most the last second: ${recorded.length} recovered, ${settled} were over a second old, ${sent.length} sent`);
  for (let i = 0; i < player.frameCount; i++) assert.is(player.renderFrame(i).identical, true, `frame ${i} replays byte-identical`);
}
