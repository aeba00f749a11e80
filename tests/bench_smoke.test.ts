/**
 * The benchmarks still run: `npm run bench -- --quick` in this process (on Node
 * or Deno), then the results file has every section with finite numbers. It
 * asserts nothing about speed. Also checks that the request benchmark's
 * baseline (the demo's routes without hono-replay) serves the same pages as the
 * recorded demo, so that comparison stays fair.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createPlainApp } from "../bench/plain_app.tsx";
import type { Results, Row } from "../bench/lib.ts";
import { runBench, SECTIONS } from "../bench/run.ts";
import { playScript, ScriptedBrowser, signupScript } from "../bench/session.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { memoryStorage } from "../mod.ts";

test("the no-recorder baseline serves byte-identical pages to the recorded demo", async () => {
  const { app, replay } = createDemoApp({ storage: memoryStorage(), worker: false });
  const steps = signupScript(40, 5_000);
  try {
    const recorded = await playScript(app, steps, new ScriptedBrowser(app, true));
    const plainApp = createPlainApp();
    const plain = await playScript(plainApp, steps, new ScriptedBrowser(plainApp, true));
    assert.is(plain.pages.length, steps.length);
    assert.equal(plain.pages.map((p) => p.status), recorded.pages.map((p) => p.status));
    for (let i = 0; i < steps.length; i++) assert.is(plain.pages[i].html, recorded.pages[i].html, `step ${i}: ${steps[i].method} ${steps[i].path}`);
  } finally {
    await replay.close();
  }
});

function assertFinite(value: unknown, what: string) {
  assert.type(value, "number", what);
  assert.ok(Number.isFinite(value as number), `${what} is finite (got ${value})`);
}

test("the quick benchmark writes every section with finite numbers", async () => {
  const out = mkdtempSync(join(tmpdir(), "hono-replay-bench-smoke-"));
  try {
    await runBench({ quick: true, outDir: out, command: "tests/bench_smoke.test.ts" });
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
    assert.is(results.mode, "quick");
    assert.equal(results.sections.map((s) => s.id), [...SECTIONS]);
    assertFinite(results.machine.cores, "machine.cores");
    for (const section of results.sections) {
      assert.ok(section.rows.length > 0, `${section.id} has rows`);
      assert.ok(section.title && section.method, `${section.id} says what it measured`);
      for (const r of section.rows as Row[]) {
        const what = `${section.id} / ${r.label}`;
        assertFinite(r.value, `${what}: value`);
        assert.ok(r.unit, `${what}: unit`);
        if (r.p99 !== undefined) assertFinite(r.p99, `${what}: p99`);
        assert.ok(r.baseline, `${what}: has a baseline`);
        assertFinite(r.baseline!.value, `${what}: baseline`);
        if (r.baseline!.p99 !== undefined) assertFinite(r.baseline!.p99, `${what}: baseline p99`);
        assertFinite(r.ratio, `${what}: ratio`);
        if (r.target) assert.type(r.target.met, "boolean", `${what}: target met or missed`);
      }
    }
    const targets = results.targets.map((t) => t.id);
    for (const id of ["size.tagged.hash.bytes", "hot.append", "request.recorder.cpu", "request.sampledOut.cpu", "request.recorder.p99", "replay.seekRender", "drain.persist", "drain.endToReadable"]) {
      assert.ok(targets.includes(id), `target ${id} is reported`);
    }
    const markdown = readFileSync(join(out, "results.md"), "utf8");
    for (const section of results.sections) assert.ok(markdown.includes(section.title), `results.md has ${section.id}`);
    assert.ok(existsSync(join(out, "results.json")));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
