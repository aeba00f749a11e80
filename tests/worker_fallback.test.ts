/**
 * A persistence worker that cannot run falls back to the in-process engine
 * (issue 9), tested on real processes: tests/worker_fallback_child.ts started
 * with the permissions or paths that stop the worker — on Deno without
 * --allow-read or --allow-write, on either runtime with a storage or journal
 * path under a file. In each: every request answers 200, the fallback is
 * warned exactly once, close() settles within its bound, and the child exits
 * by itself with code 0 (it never calls process.exit, so a worker or timer
 * left running fails the test). Where the storage can be written, the
 * in-process engine keeps the recordings; where it cannot, the save failures
 * are warned once, not once per recording.
 *
 * The child runs on this file's runtime (TEST_RUNTIME): the permission cases
 * only exist on Deno.
 */

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileStorage } from "../mod.ts";
import { root } from "./faults_support.ts";

// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno as { execPath(): string } | undefined;
const CHILD = "tests/worker_fallback_child.ts";
/** The default shutdownTimeoutMs for the child's options (10 s + its 20 ms of save retries), plus slack for a busy machine. */
const CLOSE_BOUND_MS = 10_020 + 3_000;
/** A child that closed and is still running after this long is being held open. */
const EXIT_AFTER_CLOSE_MS = 5_000;
/** From spawn to exit: three worker start attempts under tsx, the app, close. */
const RUN_DEADLINE_MS = 60_000;

const FALLBACK = /the persistence worker could not start/g;
const SAVE_FAILED = /saving recording \S+ failed/g;

interface Run {
  code: number | string;
  output: string;
  result: { mode: string; statuses: number[]; flushed: { stats?: { persisted: number }; error?: string }; closeMs: number };
}

/** Runs the child with these Deno permissions (ignored on Node) and env; kills it if it does not end in time. */
function runChild(denoPermissions: string[], env: Record<string, string>): Promise<Run> {
  const [cmd, args] = deno
    ? [deno.execPath(), ["run", "--quiet", ...denoPermissions, CHILD]]
    : [process.execPath, ["--import", "tsx", CHILD]];
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let why = "";
  const kill = (reason: string) => {
    why ||= reason;
    child.kill("SIGKILL");
  };
  const deadline = setTimeout(() => kill(`still running ${RUN_DEADLINE_MS} ms after it started`), RUN_DEADLINE_MS);
  let afterClose: ReturnType<typeof setTimeout> | undefined;
  const onData = (chunk: Buffer) => {
    output += chunk;
    if (!afterClose && output.includes("RESULT ")) {
      afterClose = setTimeout(() => kill(`still running ${EXIT_AFTER_CLOSE_MS} ms after close() settled`), EXIT_AFTER_CLOSE_MS);
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  return new Promise((resolve, reject) => {
    child.on("close", (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(afterClose);
      if (why) return reject(new Error(`the child did not exit by itself: ${why}. Output:\n${output}`));
      const line = output.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return reject(new Error(`the child printed no result (exit ${code ?? signal}). Output:\n${output}`));
      resolve({ code: code ?? signal ?? "?", output, result: JSON.parse(line.slice("RESULT ".length)) });
    });
  });
}

function count(output: string, pattern: RegExp): number {
  return output.match(pattern)?.length ?? 0;
}

/** What holds in every scenario: answered, warned once, bounded close, a clean exit. */
function assertFellBack(run: Run, hint: RegExp) {
  const { result, output } = run;
  assert.is(run.code, 0, `exit code 0. Output:\n${output}`);
  assert.is(result.mode, "in-process", "the engine runs in-process");
  assert.is(result.statuses.length, 3 * 2 + 6, "every request was made");
  assert.ok(result.statuses.every((s) => s === 200), `every request answered 200: ${result.statuses}`);
  assert.ok(result.flushed.stats, `flush() resolved: ${JSON.stringify(result.flushed)}`);
  assert.ok(result.closeMs <= CLOSE_BOUND_MS, `close() settled within ${CLOSE_BOUND_MS} ms (took ${result.closeMs})`);
  assert.is(count(output, FALLBACK), 1, `the fallback is warned exactly once. Output:\n${output}`);
  const warning = output.split("\n").find((l) => FALLBACK.test((FALLBACK.lastIndex = 0, l)))!;
  assert.match(warning, hint, "the warning says why");
  assert.match(warning, /worker: false/, "and what to do");
  assert.not.match(output, /persistence worker died/, "a worker that never started is retried quietly");
}

async function storedCount(dir: string): Promise<number> {
  return (await fileStorage({ path: dir }).list()).items.length;
}

let scratch: string;
test.before.each(() => {
  scratch = mkdtempSync(join(tmpdir(), "hono-replay-fallback-"));
});
test.after.each(() => rmSync(scratch, { recursive: true, force: true }));

/** A path under a regular file: nothing can be created there, whoever runs the test (root included). */
function underAFile(name: string): string {
  const file = join(scratch, "a-file");
  writeFileSync(file, "not a directory");
  return join(file, name);
}

test("a storage path that cannot be written: requests answer, the fallback is warned once, the process exits", async () => {
  const run = await runChild(["-A"], { STORE: underAFile("store") });
  assertFellBack(run, /ENOTDIR|Not a directory/i);
  assert.is(count(run.output, SAVE_FAILED), 1, "three recordings could not be saved: warned once");
  assert.match(run.output, /3 recording\(s\) could not be saved/, "close() reports what it could not do");
});

test("a journal directory that cannot be written: the in-process engine keeps the recordings", async () => {
  const store = join(scratch, "store");
  const run = await runChild(["-A"], { STORE: store, JOURNAL: underAFile("journal") });
  assertFellBack(run, /ENOTDIR|Not a directory/i);
  assert.is(count(run.output, SAVE_FAILED), 0, "nothing failed to save");
  assert.is(await storedCount(store), 3, "every recording stored");
});

if (deno) {
  test("Deno without --allow-read: the worker cannot load; the process answers, warns once and exits", async () => {
    const store = join(scratch, "store");
    const run = await runChild(["--allow-env", "--allow-net"], { STORE: store });
    assertFellBack(run, /--allow-read/);
    assert.is(count(run.output, SAVE_FAILED), 1, "the save failures are warned once");
  });

  test("Deno with --allow-read and --allow-write only for the storage: the in-process engine records into it", async () => {
    const store = join(scratch, "store");
    mkdirSync(store);
    const run = await runChild(["--allow-env", "--allow-net", `--allow-read=${store}`, `--allow-write=${store}`], { STORE: store });
    assertFellBack(run, /--allow-read/);
    assert.is(await storedCount(store), 3, "every recording stored, journaled on the way");
  });

  test("Deno without --allow-write: no restart loop; the process answers, warns once and exits", async () => {
    const store = join(scratch, "store");
    mkdirSync(store);
    const run = await runChild(["--allow-env", "--allow-net", "--allow-read"], { STORE: store });
    assertFellBack(run, /--allow-write/);
    assert.is(count(run.output, SAVE_FAILED), 1, "the save failures are warned once");
  });

  test("Deno with --allow-write only for the storage: the journal cannot be written, the recordings are kept", async () => {
    const store = join(scratch, "store");
    mkdirSync(store);
    const run = await runChild(["--allow-env", "--allow-net", "--allow-read", `--allow-write=${store}`], { STORE: store, JOURNAL: join(scratch, "journal") });
    assertFellBack(run, /--allow-write/);
    assert.is(await storedCount(store), 3, "every recording stored");
  });
}

test.run();
