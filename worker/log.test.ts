/**
 * EventLog: the request thread's side of the ring. A full ring never blocks a
 * request: frames wait in a bounded overflow, in order; past the bound they are
 * dropped and counted per recording, and the count follows as a "dropped" frame.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, fileStorage, type ReplayEnv } from "../mod.ts";
import { frame, FrameKind, parseFrameHeader } from "../format/mod.ts";
import { createRingBuffer, EventLog, RingReader } from "./mod.ts";

const info = (id: string, n: number, pad = 0) => frame(id, FrameKind.info, n, `n${n}` + "x".repeat(pad), "0");

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("a full ring sends frames to the overflow, then drops and counts them per recording", async () => {
  const buffer = createRingBuffer(1024);
  const log = new EventLog(buffer, { overflowLimit: 2_000 });
  const sent: string[] = [];
  const accepted: string[] = [];
  // ~100-character frames: about 9 fit in the ring, ~20 in the overflow, the rest are dropped.
  for (let n = 0; n < 60; n++) {
    const id = n % 3 === 0 ? "rec-b" : "rec-a";
    const text = info(id, n, 80);
    sent.push(text);
    if (log.append(id, text)) accepted.push(text);
  }
  const dropped = sent.length - accepted.length;
  assert.ok(dropped > 0, "some frames were dropped");
  assert.ok(accepted.length > 20, "the overflow took frames the ring had no room for");
  assert.is(log.droppedTotal, dropped);
  assert.ok(log.pending > 0, "frames wait outside the ring");

  // Nothing reads: draining the overflow cannot finish.
  try {
    await log.drainOverflow(50);
    assert.unreachable("drainOverflow must fail while nothing frees ring space");
  } catch (error) {
    assert.match(String((error as Error).message), "did not free ring space");
  }

  // A reader drains; the overflow follows in order, then one "dropped" frame per recording.
  const reader = new RingReader(buffer);
  const got: string[] = [];
  const drain = () => {
    got.push(...reader.readAvailable());
    reader.commit();
  };
  const pump = setInterval(drain, 1);
  try {
    await log.drainOverflow(10_000);
  } finally {
    clearInterval(pump);
  }
  drain();
  assert.is(log.pending, 0);

  const events = got.filter((f) => parseFrameHeader(f)!.kind === FrameKind.info);
  assert.equal(events, accepted, "every accepted frame arrives once, in the order appended");
  const droppedFrames = got.filter((f) => parseFrameHeader(f)!.kind === FrameKind.dropped).map((f) => parseFrameHeader(f)!);
  const expectedBy = new Map<string, number>();
  for (const text of sent) {
    if (accepted.includes(text)) continue;
    const id = parseFrameHeader(text)!.id;
    expectedBy.set(id, (expectedBy.get(id) ?? 0) + 1);
  }
  assert.equal(
    Object.fromEntries(droppedFrames.map((d) => [d.id, Number(d.label)])),
    Object.fromEntries(expectedBy),
    "a dropped frame per recording carries its count",
  );
  const firstCount = got.findIndex((f) => parseFrameHeader(f)!.kind === FrameKind.dropped);
  assert.ok(firstCount > got.indexOf(accepted[accepted.length - 1]), "the counts follow the frames that were kept");
});

test("after a drop, later frames wait behind the dropped count instead of jumping ahead", () => {
  const buffer = createRingBuffer(1024);
  const log = new EventLog(buffer, { overflowLimit: 0 });
  const reader = new RingReader(buffer);
  let n = 0;
  while (log.append("r", info("r", n, 80))) n++;
  const inRing = n;
  assert.is(log.droppedTotal, 1);
  // The ring has room again, but the drop is not reported yet: the next frame
  // must come after the count, so it may not go straight into the ring.
  assert.is(reader.readAvailable().length, inRing);
  reader.commit();
  assert.ok(log.append("r", info("r", 1000)), "flushes the count first, then writes");
  const after = reader.readAvailable().map((f) => parseFrameHeader(f)!);
  assert.equal(after.map((f) => f.kind), [FrameKind.dropped, FrameKind.info]);
  assert.is(after[0].label, "1");
  assert.is(after[1].t, 1000);
});

test("the overflow moves into the ring by itself once the reader frees space", async () => {
  const buffer = createRingBuffer(1024);
  const log = new EventLog(buffer);
  const texts = Array.from({ length: 40 }, (_, n) => info("r", n, 60));
  for (const text of texts) assert.ok(log.append("r", text));
  assert.ok(log.pending > 0);
  const reader = new RingReader(buffer);
  const got: string[] = [];
  // No flush() or drainOverflow() here: the log's own retry timer must move them.
  await until(() => {
    got.push(...reader.readAvailable());
    reader.commit();
    return got.length === texts.length;
  }, "the overflow to reach the reader");
  assert.equal(got, texts);
  assert.is(log.pending, 0);
  assert.is(log.droppedTotal, 0);
});

test("end to end: a recording made while the ring was jammed reports dropped > 0 and keeps the rest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-log-"));
  // In-process engine: it drains on a timer, so a burst of requests within one
  // turn of the event loop meets a ring nobody empties. No overflow at all.
  const replay = createReplay({
    views: { Note },
    storage: fileStorage({ path: dir }),
    worker: false,
    ringBytes: 1024,
    overflowLimit: 0,
  });
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "in-process");
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    app.get("/note", (c) => c.var.replay.render(Note, { text: "", n: 0 }));
    app.post("/note", async (c) => {
      const body = await c.req.json();
      return c.var.replay.render(Note, { text: body.text, n: body.n });
    });
    const first = await app.request("/note");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    await replay.flush();

    const burst = 30;
    const responses = await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        app.request("/note", {
          method: "POST",
          headers: { cookie, "content-type": "application/json", "x-replay-event": "type" },
          body: JSON.stringify({ text: `${i}:`.padEnd(300, "z"), n: i }),
        })),
    );
    assert.ok(responses.every((r) => r.status === 200), "a jammed ring never fails a request");
    assert.ok(replay.engine.dropped > 0, "frames were dropped");
    await replay.flush();
    // The recording goes on normally afterwards.
    await app.request("/note", { method: "POST", headers: { cookie, "content-type": "application/json" }, body: '{"text":"after","n":99}' });
    await replay.close();

    const [summary] = await replay.store.listRecordingSummaries();
    assert.ok(summary, "the recording was stored");
    assert.is(summary.dropped, replay.engine.dropped, "the summary counts every dropped frame");
    // mount + 2 frames per POST: what was not dropped is there.
    assert.is(summary.eventCount + summary.dropped, 1 + 2 * burst + 2);
    const recording = await replay.store.getRecording(summary.id);
    assert.is(recording.events.at(-1)!.kind, "render");
    assert.is((recording.events.at(-2) as { name: string }).name, "POST /note");
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function Note(props: { text: string; n: number }) {
  return h("p", { "data-n": props.n }, props.text);
}

test.run();
