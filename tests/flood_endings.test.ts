/**
 * Many recordings ending at once, against a slow store. The engine keeps at
 * most MAX_IN_FLIGHT (32) store operations under way: an end or leave frame
 * used to start its finalization at once, so hundreds ending together started
 * hundreds of finalizations (on close(), thousands), and the worker's event
 * loop went unanswered for seconds. And a shutdown that takes longer than the
 * heartbeat timeout (saving what is left) keeps the worker's heartbeat going:
 * the host used to take it for stuck, kill it mid-shutdown and start another.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { createReplay, fileStorage, type Replay, type ReplayEnv } from "../mod.ts";
import { slowFileStorage, slowMemory } from "./support/slow_storage.ts";
import { waitFor } from "./support/wait.ts";

function Page(props: { n: number }) {
  return h("p", null, String(props.n));
}

function pageApp(replay: Replay) {
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.get("/", (c) => c.var.replay.render(Page, { n: 0 }));
  app.post("/", (c) => c.var.replay.render(Page, { n: 1 }));
  app.post("/done", (c) => {
    c.var.replay.end();
    return c.body(null, 204);
  });
  return app;
}

/** `n` sessions that each interacted once (so none is discarded); returns their cookies. */
async function sessions(app: Hono<ReplayEnv>, n: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < n; i++) {
    const cookie = (await app.request("/")).headers.get("set-cookie")!.split(";")[0];
    assert.is((await app.request("/", { method: "POST", headers: { cookie, "x-replay-event": "go" } })).status, 200);
    cookies.push(cookie);
  }
  return cookies;
}

test("300 recordings ending at once: at most 32 store operations are under way, and every one is saved", async () => {
  const { storage, inFlight } = slowMemory(5);
  const replay = createReplay({ views: { Page }, storage, worker: false });
  const app = pageApp(replay);
  try {
    const cookies = await sessions(app, 300);
    await replay.flush();
    inFlight.max = 0;
    await Promise.all(cookies.map((cookie) => app.request("/done", { method: "POST", headers: { cookie } })));
    await waitFor(async () => (await replay.flush()).finalized === 300, "the 300 recordings to be finalized", 60_000);
    assert.is((await replay.store.listRecordingSummaries()).length, 300);
    assert.ok(inFlight.max >= 16, `the store was used in parallel (${inFlight.max} at once)`);
    assert.ok(inFlight.max <= 32, `never more than 32 operations at once (${inFlight.max})`);
  } finally {
    await replay.close();
  }
});

test("a shutdown that saves for longer than the heartbeat timeout keeps its worker: nothing is restarted, everything is saved", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-flood-"));
  const heartbeatTimeoutMs = 1_000;
  const replay = createReplay({ views: { Page }, storage: slowFileStorage({ path: dir, delayMs: 300 }), heartbeatTimeoutMs });
  const warnings: string[] = [];
  const warn = console.warn;
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "worker");
    await sessions(pageApp(replay), 64);
    await replay.flush();
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
    const started = Date.now();
    // Every recording is let go here, and finalized by the worker's shutdown.
    const report = await replay.close();
    const took = Date.now() - started;
    console.warn = warn;
    assert.ok(took > 2 * heartbeatTimeoutMs, `the shutdown took longer than the heartbeat timeout (${took} ms)`);
    assert.equal(warnings.filter((w) => /heartbeat|died/.test(w)), [], "the worker was not taken for stuck");
    assert.is(replay.engine.restarts, 0);
    assert.is(report.unsaved, undefined, "close() saved everything");
    assert.is((await fileStorage({ path: dir }).list()).items.length, 64);
  } finally {
    console.warn = warn;
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
