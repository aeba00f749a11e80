/**
 * Replay: the Timeline rebuilds the assigns of any frame from the mount, deltas
 * and keyframes (with checkpoints for fast seeking), and the Player re-renders the
 * view and proves, with the stored HTML hashes, whether each frame is byte-identical.
 */

import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, memoryStorage, type Recording, type ReplayEnv, type ReplayEvent, type ReplayOptions } from "../mod.ts";
import type { Assigns } from "../format/mod.ts";
import { Player, reconstruct, Timeline } from "./mod.ts";

function recordingOf(events: ReplayEvent[]): Recording {
  return {
    id: "hand-built",
    view: "Counter",
    url: "http://localhost/",
    sessionKey: "k",
    startedAt: 1_700_000_000_000,
    durationMs: events[events.length - 1].t,
    eventCount: events.length,
    eventNames: [],
    truncated: false,
    dropped: 0,
    recovered: false,
    format: "tagged",
    sizeBytes: 0,
    events,
  };
}

const handBuilt = recordingOf([
  { kind: "mount", t: 10, url: "http://localhost/", params: {}, session: {}, assigns: { a: 1, b: 2, c: 3 } },
  { kind: "event", t: 50, name: "inc", params: {} },
  { kind: "render", t: 100, changed: { a: 10 }, removed: ["b"], full: false },
  { kind: "params", t: 150, url: "http://localhost/?d=4", params: { d: "4" } },
  { kind: "render", t: 200, changed: { d: 4, when: new Date(0) }, removed: [], full: false },
  { kind: "render", t: 300, changed: { x: 1 }, removed: [], full: true },
  { kind: "info", t: 350, type: "push" },
  { kind: "render", t: 400, changed: { x: 2, y: 3 }, removed: [], full: false },
  { kind: "render", t: 400, changed: {}, removed: ["x"], full: false },
]);

test("Timeline indexes the mount and the renders as frames", () => {
  const timeline = new Timeline(handBuilt);
  assert.is(timeline.frames.length, 6);
  assert.equal(timeline.frames.map((f) => f.eventIndex), [0, 2, 4, 5, 7, 8]);
  assert.equal(timeline.frames.map((f) => f.t), [10, 100, 200, 300, 400, 400]);
  assert.equal(timeline.frames.map((f) => f.event.kind), ["mount", "render", "render", "render", "render", "render"]);
});

test("assignsOf applies deltas, removed keys and a full keyframe", () => {
  const timeline = new Timeline(handBuilt);
  assert.equal(timeline.assignsOf(0), { a: 1, b: 2, c: 3 });
  assert.equal(timeline.assignsOf(1), { a: 10, c: 3 }, "b was removed");
  assert.equal(timeline.assignsOf(2), { a: 10, c: 3, d: 4, when: new Date(0) });
  assert.equal(timeline.assignsOf(3), { x: 1 }, "a keyframe replaces everything");
  assert.equal(timeline.assignsOf(4), { x: 2, y: 3 });
  assert.equal(timeline.assignsOf(5), { y: 3 });
  assert.throws(() => timeline.assignsOf(6), RangeError);
  assert.throws(() => timeline.assignsOf(-1), RangeError);
});

test("assignsAt and reconstruct: undefined before the mount, the last frame at or before t after it", () => {
  const timeline = new Timeline(handBuilt);
  assert.is(timeline.assignsAt(0), undefined);
  assert.is(timeline.assignsAt(9), undefined);
  assert.is(reconstruct(handBuilt, 9), undefined);
  assert.is(timeline.frameIndexAt(9), -1);
  assert.equal(timeline.assignsAt(10), { a: 1, b: 2, c: 3 });
  assert.equal(reconstruct(handBuilt, 99), { a: 1, b: 2, c: 3 }, "the event at 50 is not a frame");
  assert.equal(reconstruct(handBuilt, 100), { a: 10, c: 3 });
  assert.equal(reconstruct(handBuilt, 299), { a: 10, c: 3, d: 4, when: new Date(0) });
  assert.equal(reconstruct(handBuilt, 350), { x: 1 });
  assert.equal(reconstruct(handBuilt, 400), { y: 3 }, "two frames at the same time: the last one shows");
  assert.equal(reconstruct(handBuilt, 1e9), { y: 3 });
  assert.is(timeline.frameIndexAt(400), 5);
});

test("changedKeys lists what a frame changed", () => {
  const timeline = new Timeline(handBuilt);
  assert.equal(timeline.changedKeys(0), ["a", "b", "c"]);
  assert.equal(timeline.changedKeys(1), ["a", "b"]);
  assert.equal(timeline.changedKeys(3), ["x"]);
  assert.equal(timeline.changedKeys(5), ["x"]);
});

test("assignsOf returns a fresh object: mutating it changes nothing", () => {
  const timeline = new Timeline(handBuilt);
  const first = timeline.assignsOf(1);
  first.a = "mutated";
  delete first.c;
  first.extra = true;
  assert.equal(timeline.assignsOf(1), { a: 10, c: 3 });
  assert.equal(timeline.assignsOf(2), { a: 10, c: 3, d: 4, when: new Date(0) });
  assert.equal(timeline.assignsOf(0), { a: 1, b: 2, c: 3 });
});

/** A long recording: deltas that add, change and remove keys, and a keyframe now and then. */
function longRecording(renders: number): Recording {
  const events: ReplayEvent[] = [{ kind: "mount", t: 0, url: "http://localhost/", params: {}, session: {}, assigns: { n: 0, k0: "start" } }];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 1; i <= renders; i++) {
    events.push({ kind: "event", t: i * 10 - 5, name: "step", params: { i } });
    if (i % 41 === 0) {
      events.push({ kind: "render", t: i * 10, changed: { n: i, reset: true, [`k${i % 9}`]: i }, removed: [], full: true });
      continue;
    }
    const changed: Assigns = { n: i };
    if (random() < 0.5) changed[`k${Math.floor(random() * 9)}`] = { at: i, list: [i, i + 1] };
    const removed = random() < 0.3 ? [`k${Math.floor(random() * 9)}`] : [];
    if (random() < 0.1) removed.push("reset");
    events.push({ kind: "render", t: i * 10, changed, removed: removed.filter((k) => !(k in changed)), full: false });
  }
  return recordingOf(events);
}

/** The reference: apply every frame in order, from the start. */
function sequential(recording: Recording): Assigns[] {
  const out: Assigns[] = [];
  let assigns: Assigns = {};
  for (const e of recording.events) {
    if (e.kind === "mount") assigns = { ...e.assigns };
    else if (e.kind === "render") {
      assigns = e.full ? { ...e.changed } : { ...assigns, ...e.changed };
      if (!e.full) for (const key of e.removed) delete assigns[key];
    } else continue;
    out.push(structuredClone(assigns));
  }
  return out;
}

test("seeking any frame of a long recording (checkpoints) equals applying the deltas sequentially", () => {
  const recording = longRecording(150);
  const expected = sequential(recording);
  const timeline = new Timeline(recording);
  assert.is(timeline.frames.length, 151);
  assert.ok(expected.some((a, i) => i > 0 && !("k0" in a)), "some frames have keys removed");

  for (let i = 0; i < expected.length; i++) assert.equal(timeline.assignsOf(i), expected[i], `frame ${i} forwards`);
  for (let i = expected.length - 1; i >= 0; i--) assert.equal(timeline.assignsOf(i), expected[i], `frame ${i} backwards`);
  // Jumping around across checkpoint boundaries (every 32 frames), mutating what comes back.
  for (const i of [150, 0, 31, 32, 33, 64, 63, 95, 96, 127, 128, 129, 1, 100]) {
    const got = timeline.assignsOf(i);
    assert.equal(got, expected[i], `frame ${i} jumping`);
    got.n = -1;
    delete got.k1;
  }
  for (let i = 0; i < expected.length; i++) assert.equal(timeline.assignsOf(i), expected[i], `frame ${i} after mutations`);
  for (let i = 0; i < expected.length; i++) assert.equal(timeline.assignsAt(i * 10), expected[i], `at ${i * 10} ms`);
});

// ---- Player ----

function Counter(props: { n: number; label: string; items: string[] }) {
  return h("main", null, h("h1", null, `${props.label}: ${props.n}`), h("ul", null, props.items.map((item) => h("li", { key: item }, item))));
}

function Clock(props: { n: number }) {
  return h("p", null, `${props.n} rendered at ${Date.now()}`);
}

/** Mount, a form-post event, a query change: three frames, recorded for real. */
async function recordCounter(view: typeof Counter | typeof Clock, options: Partial<ReplayOptions> = {}): Promise<{ recording: Recording; player: Player }> {
  const replay = createReplay({ views: { Counter, Clock }, storage: memoryStorage(), worker: false, ...options });
  try {
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    let n = 0;
    const props = (label: string) => ({ n, label, items: Array.from({ length: n }, (_, i) => `item ${i}`) });
    app.get("/", (c) => c.var.replay.render(view, props(c.req.query("label") ?? "Count")));
    app.post("/inc", (c) => {
      n++;
      return c.var.replay.render(view, props("Count"));
    });
    const first = await app.request("/");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    await app.request("/inc", { method: "POST", headers: { cookie, "x-replay-event": "increment" } });
    await app.request("/inc", { method: "POST", headers: { cookie, "x-replay-event": "increment" } });
    await app.request("/?label=Total", { headers: { cookie } });
    await replay.close();
    const [summary] = await replay.store.listRecordingSummaries();
    const recording = await replay.store.getRecording(summary.id);
    return { recording, player: replay.player(recording) };
  } finally {
    await replay.close();
  }
}

test("Player.renderFrame re-renders the view with each frame's assigns", async () => {
  const { recording, player } = await recordCounter(Counter);
  assert.is(recording.view, "Counter");
  assert.equal(recording.eventNames, ["increment"]);
  assert.is(player.frameCount, 4);
  const html = Array.from({ length: 4 }, (_, i) => player.renderFrame(i).html);
  assert.is(html[0], "<main><h1>Count: 0</h1><ul></ul></main>");
  assert.is(html[1], "<main><h1>Count: 1</h1><ul><li>item 0</li></ul></main>");
  assert.is(html[2], "<main><h1>Count: 2</h1><ul><li>item 0</li><li>item 1</li></ul></main>");
  assert.is(html[3], "<main><h1>Total: 2</h1><ul><li>item 0</li><li>item 1</li></ul></main>");
  const frame = player.renderFrame(2);
  assert.is(frame.index, 2);
  assert.is(frame.t, player.timeline.frames[2].t);
  assert.is(frame.identical, true);
  assert.is(player.renderAt(-1).index, 0, "before the mount shows the mount");
  assert.is(player.renderAt(1e9).html, html[3]);
});

test("fidelity() reports every frame of a pure view as identical", async () => {
  const { player } = await recordCounter(Counter);
  assert.equal(player.fidelity(), { frames: 4, identical: 4, differing: [], unknown: 0 });
});

test("fidelity() reports a view that renders Date.now() as differing", async () => {
  const { player } = await recordCounter(Clock);
  // Let the clock move on past the recorded renders.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const report = player.fidelity();
  assert.is(report.frames, 4);
  assert.equal(report.differing, [0, 1, 2, 3]);
  assert.is(report.identical, 0);
  assert.is(player.renderFrame(1).identical, false);
  assert.match(player.renderFrame(1).html, /^<p>1 rendered at \d+<\/p>$/);
});

test("a recording made with fidelity: false reports unknown", async () => {
  const { recording, player } = await recordCounter(Counter, { fidelity: false });
  assert.ok(recording.events.every((e) => !("htmlHash" in e)), "no hashes stored");
  assert.equal(player.fidelity(), { frames: 4, identical: 0, differing: [], unknown: 4 });
  assert.is(player.renderFrame(0).identical, undefined);
  assert.is(player.renderFrame(3).html, "<main><h1>Total: 2</h1><ul><li>item 0</li><li>item 1</li></ul></main>");
});

test("a hand-built recording without hashes plays with Player directly", () => {
  const player = new Player(handBuilt, (props: Record<string, unknown>) => h("pre", null, JSON.stringify(props)));
  assert.is(player.frameCount, 6);
  assert.is(player.renderFrame(1).html, `<pre>${JSON.stringify({ a: 10, c: 3 }).replace(/"/g, "&quot;")}</pre>`);
  assert.equal(player.fidelity(), { frames: 6, identical: 0, differing: [], unknown: 6 });
});

test.run();
