/**
 * A flood of cookieless visitors (issue 14): each request without a cookie
 * that renders a view is a new session, held in memory until it goes idle.
 * With the default `maxActiveRecordings` (10,000) 30,000 such visitors, through
 * the demo app with its real persistence worker, must grow the process by at
 * most 64 MiB of resident memory, every request answering 200, the sessions
 * past the cap counted. Measured in a child Node process (tests/flood_child.ts),
 * after garbage collection.
 *
 * Node only: on Deno (2.x) the same 30,000 `app.request()` calls grow the
 * process by ~295 MiB with nothing recorded at all (sampleRate 0), so the
 * bound would measure the runtime, not the recorder (whose share there was
 * ~70 MiB: Deno's Worker takes no young-generation limit).
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEFAULTS } from "../mod.ts";
import { root } from "./faults_support.ts";

// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno;
const CHILD = "tests/flood_child.ts";
const VISITORS = 30_000;
/** Cookieless requests before the measurement (they take their places under the cap too). */
const WARM_UP = 500;
const BOUND_MIB = 64;

interface Result {
  grownMiB: number;
  statuses: Record<string, number>;
  capped: number;
  dropped: number;
}

function runChild(env: Record<string, string>): Promise<Result> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", CHILD], { cwd: root, env: { ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    child.on("close", (code) => {
      const line = output.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) return reject(new Error(`the flood child failed (exit ${code}):\n${output}`));
      resolve(JSON.parse(line.slice("RESULT ".length)));
    });
  });
}

const register = deno ? () => {} : test;

register(`${VISITORS} cookieless visitors grow the process by at most ${BOUND_MIB} MiB; every request answers 200`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-flood-"));
  try {
    const result = await runChild({ FLOOD_DIR: dir, FLOOD_VISITORS: String(VISITORS), FLOOD_WARM_UP: String(WARM_UP) });
    assert.equal(result.statuses, { 200: VISITORS }, "every request served");
    // Positive control: the flood did fill the recorder up to its cap (it was recorded, not ignored).
    assert.is(result.capped, WARM_UP + VISITORS - DEFAULTS.maxActiveRecordings, "the sessions past the cap, counted");
    assert.is(result.dropped, 0, "no frame dropped");
    assert.ok(result.grownMiB <= BOUND_MIB, `grew by ${result.grownMiB.toFixed(1)} MiB`);
    console.log(`      ${VISITORS} cookieless visitors: +${result.grownMiB.toFixed(1)} MiB resident, ${result.capped} past the cap`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
