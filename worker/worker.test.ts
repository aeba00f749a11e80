/**
 * The drain engine end to end, through createReplay: the persistence worker
 * (fileStorage), a worker that dies mid-session and is replaced without losing
 * or repeating an event, the in-process engine (worker: false, memoryStorage),
 * and a real worker draining a small ring that the request thread keeps full.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, fileStorage, memoryStorage, type Recording, type Replay, type ReplayEnv, type ReplayOptions, Timeline } from "../mod.ts";
import { testHooks } from "../internal.ts";
import { waitFor } from "../tests/support/wait.ts";

function Board(props: { step: number; note: string }) {
  return h("main", null, h("h1", null, `step ${props.step}`), h("p", null, props.note));
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "hono-replay-worker-"));
}

function boardApp(replay: Replay) {
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.get("/board", (c) => c.var.replay.render(Board, { step: 0, note: "start" }));
  app.post("/board", async (c) => {
    const body = await c.req.parseBody();
    return c.var.replay.render(Board, { step: Number(body.step), note: String(body.note) });
  });
  // Many small info frames per request: the cheapest way to push frames through the ring.
  app.post("/burst", (c) => {
    const from = Number(c.req.query("from"));
    const count = Number(c.req.query("count"));
    for (let i = from; i < from + count; i++) c.var.replay.info(`n${i}`);
    return c.text("ok");
  });
  return app;
}

async function startSession(app: Hono<ReplayEnv>): Promise<string> {
  const res = await app.request("/board");
  assert.is(res.status, 200);
  const cookie = res.headers.get("set-cookie")?.match(/hono_replay=[a-z0-9]+/)?.[0];
  assert.ok(cookie, "the first response sets the session cookie");
  return cookie!;
}

function postStep(app: Hono<ReplayEnv>, cookie: string, step: number) {
  return app.request("/board", {
    method: "POST",
    headers: { cookie, "x-replay-event": `step-${step}` },
    body: new URLSearchParams({ step: String(step), note: `note ${step} ✓` }),
  });
}

const until = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) => waitFor(condition, what, timeoutMs, 20);

async function onlyRecording(replay: Replay): Promise<Recording> {
  const summaries = await replay.store.listRecordingSummaries();
  assert.is(summaries.length, 1, "exactly one recording stored");
  return replay.store.getRecording(summaries[0].id);
}

/** Checks that a recording holds steps 1..n exactly once each, in order, each an event then a render. */
function assertSteps(recording: Recording, n: number) {
  assert.is(recording.events[0].kind, "mount");
  assert.is(recording.events.length, 1 + 2 * n, `mount + ${n} × (event, render), got ${recording.events.length} events`);
  assert.is(recording.eventCount, recording.events.length);
  const names = recording.events.filter((e) => e.kind === "event").map((e) => (e as { name: string }).name);
  assert.equal(names, Array.from({ length: n }, (_, i) => `step-${i + 1}`));
  const timeline = new Timeline(recording);
  const steps = timeline.frames.map((_, i) => timeline.assignsOf(i).step);
  assert.equal(steps, Array.from({ length: n + 1 }, (_, i) => i));
  for (let i = 1; i < recording.events.length; i++) {
    assert.ok(recording.events[i].t >= recording.events[i - 1].t, "offsets never go backwards");
  }
  assert.is(recording.dropped, 0);
  assert.is(recording.truncated, false);
}

test("with fileStorage the engine runs in a worker, and a worker killed mid-session loses and repeats nothing", async () => {
  const dir = tempDir();
  const replay = createReplay({ views: { Board }, storage: fileStorage({ path: dir }) });
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "worker");
    assert.is(replay.engine.restarts, 0);
    const app = boardApp(replay);
    const cookie = await startSession(app);
    let step = 0;
    for (; step < 20; ) assert.is((await postStep(app, cookie, ++step)).status, 200);
    // Some of this is drained and journaled, some may still be in the ring.
    const active = await replay.store.listActive();
    assert.is(active.length, 1);
    assert.is(active[0].eventCount, 1 + 2 * step, "the worker holds every event so far");

    testHooks(replay).crashWorker();
    // Requests keep coming while the worker dies and its replacement starts.
    await until(async () => {
      assert.is((await postStep(app, cookie, ++step)).status, 200);
      return replay.engine.restarts >= 1;
    }, "the worker to be replaced");
    for (let i = 0; i < 20; i++) assert.is((await postStep(app, cookie, ++step)).status, 200);
    assert.is(replay.engine.mode, "worker", "still a worker after the restart");

    const stats = await replay.flush();
    assert.is(stats.active, 1, "the replacement rebuilt the active recording from the journal");
    const live = await replay.store.getActive((await replay.store.listActive())[0].id);
    assert.ok(live);
    assert.is(live!.events.length, 1 + 2 * step);
    await replay.close();

    assert.ok(replay.engine.restarts >= 1);
    assertSteps(await onlyRecording(replay), step);
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker stuck in a loop stops its heartbeat and is replaced, losing nothing", async () => {
  const dir = tempDir();
  const replay = createReplay({ views: { Board }, storage: fileStorage({ path: dir }), heartbeatTimeoutMs: 500 });
  try {
    await replay.ready;
    const app = boardApp(replay);
    const cookie = await startSession(app);
    let step = 0;
    for (; step < 5; ) await postStep(app, cookie, ++step);
    await replay.flush();
    // Stuck for far longer than the heartbeat timeout: only a replacement can drain from here on.
    testHooks(replay).hangWorker(4_000);
    for (let i = 0; i < 5; i++) await postStep(app, cookie, ++step);
    await until(() => replay.engine.restarts >= 1, "the stuck worker to be replaced");
    await replay.close();
    assertSteps(await onlyRecording(replay), step);
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const inProcess: [string, () => { options: Partial<ReplayOptions>; cleanup: () => void }][] = [
  ["fileStorage with worker: false", () => {
    const dir = tempDir();
    return { options: { storage: fileStorage({ path: dir }), worker: false }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }],
  ["memoryStorage", () => ({ options: { storage: memoryStorage() }, cleanup: () => {} })],
];

for (const [name, setup] of inProcess) {
  test(`${name}: the engine runs in-process with the same semantics`, async () => {
    const { options, cleanup } = setup();
    const replay = createReplay({ views: { Board }, ...options });
    try {
      await replay.ready;
      assert.is(replay.engine.mode, "in-process");
      const app = boardApp(replay);
      const cookie = await startSession(app);
      let step = 0;
      for (; step < 15; ) assert.is((await postStep(app, cookie, ++step)).status, 200);
      testHooks(replay).crashWorker(); // no worker: nothing happens
      for (let i = 0; i < 15; i++) assert.is((await postStep(app, cookie, ++step)).status, 200);
      const stats = await replay.flush();
      assert.is(stats.active, 1);
      assert.is(stats.frames, 2 + 2 * step, "start + mount + every event and render, each drained once");
      await replay.close();
      assert.is(replay.engine.restarts, 0);
      assertSteps(await onlyRecording(replay), step);
    } finally {
      await replay.close();
      cleanup();
    }
  });
}

test("200,000 frames through a 4 KiB ring and a real worker: each stored once, in order", async () => {
  const dir = tempDir();
  const total = 200_000;
  const replay = createReplay({
    views: { Board },
    storage: fileStorage({ path: dir }),
    ringBytes: 4096,
    maxEvents: total + 1_000,
    overflowLimit: 64 * 1024 * 1024,
  });
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "worker");
    const app = boardApp(replay);
    const cookie = await startSession(app);
    await postStep(app, cookie, 1); // an interaction, so the recording is kept
    const perRequest = 5_000;
    for (let from = 0; from < total; from += perRequest) {
      const res = await app.request(`/burst?from=${from}&count=${perRequest}`, { method: "POST", headers: { cookie } });
      assert.is(res.status, 200);
      // Let the log's retry timer move its overflow into the ring while the worker drains.
      await new Promise((r) => setTimeout(r, 1));
    }
    await replay.flush();
    assert.is(replay.engine.dropped, 0);
    await replay.close();

    const recording = await onlyRecording(replay);
    const infos = recording.events.filter((e) => e.kind === "info").map((e) => (e as { type: string }).type);
    assert.is(infos.length, total);
    for (let i = 0; i < total; i++) {
      if (infos[i] !== `n${i}`) assert.unreachable(`frame ${i} is ${infos[i]}`);
    }
    // Plus the mount, one event, its render and the burst requests' own events.
    assert.is(recording.events.filter((e) => e.kind === "event").length, 1 + total / perRequest);
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker killed while the ring is busy: every frame still stored exactly once", async () => {
  const dir = tempDir();
  const total = 60_000;
  const replay = createReplay({
    views: { Board },
    storage: fileStorage({ path: dir }),
    ringBytes: 4096,
    maxEvents: total + 1_000,
    overflowLimit: 64 * 1024 * 1024,
  });
  try {
    await replay.ready;
    const app = boardApp(replay);
    const cookie = await startSession(app);
    await postStep(app, cookie, 1);
    const perRequest = 2_000;
    let crashedAt = -1;
    for (let from = 0; from < total; from += perRequest) {
      await app.request(`/burst?from=${from}&count=${perRequest}`, { method: "POST", headers: { cookie } });
      if (from === total / 2) {
        crashedAt = from;
        testHooks(replay).crashWorker();
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(crashedAt > 0);
    await until(() => replay.engine.restarts >= 1, "the worker to be replaced");
    await replay.flush();
    assert.is(replay.engine.dropped, 0);
    await replay.close();

    const recording = await onlyRecording(replay);
    const infos = recording.events.filter((e) => e.kind === "info").map((e) => (e as { type: string }).type);
    const seen = new Map<string, number>();
    for (const type of infos) seen.set(type, (seen.get(type) ?? 0) + 1);
    const repeated = [...seen].filter(([, n]) => n > 1).map(([type]) => type);
    assert.equal(repeated.slice(0, 5), [], "no frame stored twice");
    assert.is(infos.length, total, "no frame lost");
    for (let i = 0; i < total; i++) {
      if (infos[i] !== `n${i}`) assert.unreachable(`frame ${i} is ${infos[i]}`);
    }
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
