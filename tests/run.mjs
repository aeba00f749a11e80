#!/usr/bin/env node
// The test command: runs every *.test.ts(x) file, each in its own process, on
// Node (through tsx) and on Deno, and ends with one line "N passed, N failed, N skipped".
//
//   node tests/run.mjs                      all files, both runtimes
//   node tests/run.mjs --runtime node       one runtime
//   node tests/run.mjs codec sanitize       files whose path contains a word
//   REQUIRE_ALL_TESTS=1 node tests/run.mjs  fail if any test was skipped (CI: .ci/run)
//
// Each file is a uvu suite. uvu prints Total/Passed/Skipped; a file that
// crashes, hangs past its time limit or prints no totals counts as a failure.
// A test that needs what the machine lacks (PostgreSQL, Chromium) is registered
// as skipped (tests/support/skip.ts), so the summary says what did not run.

import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const runtimeArg = args.includes("--runtime") ? args[args.indexOf("--runtime") + 1] : "all";
const filters = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--runtime");
const runtimes = runtimeArg === "all" ? ["node", "deno"] : [runtimeArg];
const parallel = Number(process.env.TEST_PARALLEL ?? 2);
const requireAll = process.env.REQUIRE_ALL_TESTS === "1";
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000);
const SKIP_DIRS = new Set(["node_modules", "dist", ".git", "replay_recordings", "test-artifacts"]);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (/\.test\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

const files = findTests(root)
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

function command(runtime, file) {
  if (runtime === "node") return [process.execPath, ["--import", "tsx", file]];
  return [join(root, "node_modules", ".bin", "deno"), ["run", "-A", "--quiet", file]];
}

function runFile(runtime, file) {
  return new Promise((resolve) => {
    const [cmd, argv] = command(runtime, file);
    const started = Date.now();
    const child = spawn(cmd, argv, {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", TEST_RUNTIME: runtime },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[run.mjs] killed after ${fileTimeoutMs} ms\n`;
      child.kill("SIGKILL");
    }, fileTimeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      const num = (label) => {
        const all = [...output.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, "gm"))];
        return all.length ? all.reduce((n, m) => n + Number(m[1]), 0) : undefined;
      };
      const total = num("Total");
      const passed = num("Passed") ?? 0;
      const skipped = num("Skipped") ?? 0;
      // uvu's Total leaves skipped tests out.
      let failed = total === undefined ? 1 : total - passed;
      if (failed === 0 && code !== 0) failed = 1; // crashed after its totals
      resolve({ runtime, file, passed, failed, skipped, ms: Date.now() - started, output, code });
    });
  });
}

const jobs = runtimes.flatMap((runtime) => files.map((file) => [runtime, file]));
const results = [];
let next = 0;
async function lane() {
  while (next < jobs.length) {
    const [runtime, file] = jobs[next++];
    const r = await runFile(runtime, file);
    results.push(r);
    const mark = r.failed ? "FAIL" : "ok  ";
    console.log(`${mark} ${runtime.padEnd(4)} ${file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)} s)`);
    if (r.failed) console.log(r.output.replace(/^/gm, "    | "));
  }
}
await Promise.all(Array.from({ length: Math.max(1, parallel) }, lane));

const sum = (k) => results.reduce((n, r) => n + r[k], 0);
if (files.length === 0) console.log("no test files matched");
console.log(`\ntests: ${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped`);
const skippedFiles = results.filter((r) => r.skipped > 0);
if (requireAll && skippedFiles.length) {
  console.log(`REQUIRE_ALL_TESTS=1: ${sum("skipped")} skipped, in ${skippedFiles.map((r) => `${r.runtime} ${r.file}`).join(", ")}; install what they need (see .ci/run)`);
}
process.exitCode = sum("failed") > 0 || files.length === 0 || (requireAll && sum("skipped") > 0) ? 1 : 0;
