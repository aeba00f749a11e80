/**
 * An ending recording's last frames go into its finalization from memory
 * (worker/delivery.ts `send`): they are not written as a segment, read back
 * and deleted. What is pinned: the recording is saved whole with no segment
 * round trip; other instances' segments are still merged and deleted; a
 * stored copy under the last frames' own key is replaced, not repeated; and
 * when the finalization leaves the recording for later (another instance holds
 * its lease, or carried it on after this one let go), the frames reach the
 * store as a segment, as before, and a lease lost to another instance is tried
 * again once they are there. A failed save is retried with the same frames; an
 * erasure during the save leaves the engine's held-character count exact. Each
 * test counts the store's calls, with a control that shows the count moves.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeRecordingColumns, encode, frame, FrameKind, payload } from "../format/mod.ts";
import { memoryStorage, type RecordingStorage } from "../mod.ts";
import type { Segment } from "../storage/mod.ts";
import { segmentKey } from "./drain.ts";
import { Engine } from "./engine.ts";
import type { EngineStats } from "./engine_types.ts";
import { counterRecording, quietEngineOptions } from "./engine.fixture.ts";
import { createRingBuffer, RingWriter } from "./ring.ts";
import { waitFor } from "../tests/support/wait.ts";

const ID = "0rec-lastframes";
const INSTANCE = "instanceaaaa";
const { meta, start, mount: MOUNT, click } = counterRecording(ID);
const END = frame(ID, FrameKind.end, 301, "", "0", 4);
const leave = (t: number, seq: number) => frame(ID, FrameKind.leave, t, String(meta.startedAt + t), "0", seq);

/** memoryStorage, counting the segment calls the engine makes. */
function countingStore() {
  const storage = memoryStorage();
  const calls = { append: 0, load: 0, delete: 0 };
  const store: RecordingStorage = {
    ...storage,
    appendSegment(segment: Segment) {
      calls.append++;
      return storage.appendSegment(segment);
    },
    loadSegments(id: string) {
      calls.load++;
      return storage.loadSegments(id);
    },
    deleteSegments(id: string, keys: string[]) {
      calls.delete++;
      return storage.deleteSegments(id, keys);
    },
  };
  return { storage, store, calls };
}

/** `store`, whose first call of `method` waits, once it has begun (`entered`), until `release()`; `calls()` counts the calls. */
function firstCallHeld(store: RecordingStorage, method: "save" | "claim") {
  let release!: () => void;
  let enter!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  let calls = 0;
  const original = store[method] as (...args: unknown[]) => Promise<unknown>;
  const held = {
    ...store,
    async [method](...args: unknown[]) {
      if (calls++ === 0) {
        enter();
        await gate;
      }
      return original.apply(store, args);
    },
  } as RecordingStorage;
  return { store: held, entered, release, calls: () => calls };
}

/** An engine of INSTANCE on `store`, with a journal, and a writer into its ring. */
async function engineOn(store: RecordingStorage) {
  const journalDir = mkdtempSync(join(tmpdir(), "hono-replay-delivery-"));
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  const engine = new Engine(buffer, store, quietEngineOptions(INSTANCE, journalDir), { warn() {}, error() {} }, "poll");
  await engine.start();
  return {
    engine,
    write: (lines: string[]) => lines.forEach((line) => assert.ok(ring.write(line), "the ring takes the frame")),
    async stop() {
      await engine.handle({ type: "shutdown" });
      rmSync(journalDir, { recursive: true, force: true });
    },
  };
}

/** The clicks of the saved recording, by their `i`. */
async function savedClicks(storage: RecordingStorage): Promise<number[]> {
  const { columns } = decodeRecordingColumns(ID, await storage.load(ID));
  const clicks: number[] = [];
  for (let at = 0; at < columns.kinds.length; at++) {
    if (columns.kinds[at] !== FrameKind.event) continue;
    for (const i of [1, 2, 3, 4]) if (columns.payloads[at] === payload.event(encode({ i }))) clicks.push(i);
  }
  return clicks;
}

test("an ending recording's last frames are saved from memory: no segment written, read back or deleted", async () => {
  const { storage, store, calls } = countingStore();
  const { engine, write, stop } = await engineOn(store);
  try {
    write([start(false), MOUNT, ...click(1), ...click(2), END]);
    await engine.handle({ type: "flush" });
    assert.equal(await savedClicks(storage), [1, 2], "saved whole, each click once");
    assert.is(calls.append, 0, "no segment was written");
    assert.is(calls.delete, 0, "none was deleted");
    assert.equal(await storage.loadSegments(ID), [], "nothing left in the store to merge again");
    assert.is(((await engine.handle({ type: "stats" })) as EngineStats).finalized, 1, "finalized here");

    // Control: the count moves. A recording that is not ending goes to the store as a segment.
    const other = "0rec-stillgoing";
    const going = counterRecording(other);
    write([going.start(false), going.mount, ...going.click(1)]);
    await engine.handle({ type: "flush" });
    assert.is(calls.append, 1, "control: a recording still going is written as a segment");
  } finally {
    await stop();
  }
});

test("segments already in the store, this instance's and another's, are merged with the last frames and deleted", async () => {
  const { storage, store, calls } = countingStore();
  const { engine, write, stop } = await engineOn(store);
  try {
    write([start(false), MOUNT, ...click(1)]);
    await engine.handle({ type: "flush" });
    assert.is(calls.append, 1, "control: this instance's first frames went as a segment");
    // Another instance served request 2.
    await storage.appendSegment({ recordingId: ID, key: "instancebbbb-0000000000", lastAt: meta.startedAt + 201, text: [start(true), ...click(2)].join("\n") });
    write([...click(3), END]);
    await engine.handle({ type: "flush" });
    assert.equal(await savedClicks(storage), [1, 2, 3], "every instance's clicks, once, in order");
    assert.is(calls.append, 1, "the last frames were not written as a segment");
    assert.equal(await storage.loadSegments(ID), [], "both stored segments were deleted");
  } finally {
    await stop();
  }
});

test("a stored copy under the last frames' own key (an append whose answer never came) is replaced by them, not repeated", async () => {
  const { storage, store } = countingStore();
  const { engine, write, stop } = await engineOn(store);
  try {
    // What an append of these very frames left in the store before its answer was lost.
    await storage.appendSegment({ recordingId: ID, key: segmentKey(INSTANCE, 0), lastAt: meta.startedAt + 101, text: [start(false), MOUNT, ...click(1)].join("\n") });
    write([start(false), MOUNT, ...click(1), ...click(2), END]);
    await engine.handle({ type: "flush" });
    assert.equal(await savedClicks(storage), [1, 2], "click 1 once");
    assert.equal(await storage.loadSegments(ID), [], "the stale copy is gone");
  } finally {
    await stop();
  }
});

test("left for later (another instance holds the lease): the last frames reach the store as a segment", async () => {
  const { storage, store, calls } = countingStore();
  const { engine, write, stop } = await engineOn(store);
  try {
    assert.ok(await storage.claim(ID, "instancebbbb", 60_000), "another instance is finalizing it");
    write([start(false), MOUNT, ...click(1), ...click(2), END]);
    await engine.handle({ type: "flush" });
    assert.is(calls.append, 1, "written as a segment");
    const [segment] = await storage.loadSegments(ID);
    for (const i of [1, 2]) assert.ok(segment?.text.includes(click(i)[0]), `request ${i} is in the store`);
    await assertNotSaved(storage);
  } finally {
    await stop();
  }
});

test("let go while another instance carried it on: not finalized, the last frames go as a segment", async () => {
  const { storage, store, calls } = countingStore();
  const { engine, write, stop } = await engineOn(store);
  try {
    // Another instance served request 3 after this one's last request (201).
    await storage.appendSegment({ recordingId: ID, key: "instancebbbb-0000000000", lastAt: meta.startedAt + 401, text: [start(true), ...click(3)].join("\n") });
    write([start(false), MOUNT, ...click(1), ...click(2), frame(ID, FrameKind.leave, 201, String(meta.startedAt + 201), "0", 3)]);
    await engine.handle({ type: "flush" });
    const segments = await storage.loadSegments(ID);
    assert.is(segments.length, 2, "both instances' segments wait for the other instance to finalize");
    assert.is(calls.append, 1, "this instance's frames went as a segment");
    for (const i of [1, 2, 3]) assert.ok(segments.some((s) => s.text.includes(click(i)[0])), `request ${i} is in the store`);
    await assertNotSaved(storage);
  } finally {
    await stop();
  }
});

test("a save that fails is tried again with the same last frames: saved once, never written as a segment", async () => {
  const { storage, store, calls } = countingStore();
  let refused = 0;
  const refusing: RecordingStorage = {
    ...store,
    save(meta, bytes) {
      if (refused++ === 0) return Promise.reject(new Error("the store refused the save"));
      return storage.save(meta, bytes);
    },
  };
  const { engine, write, stop } = await engineOn(refusing);
  try {
    write([start(false), MOUNT, ...click(1), ...click(2), END]);
    await engine.handle({ type: "flush" });
    await assertNotSaved(storage);
    assert.is(refused, 1, "control: the first save was refused");
    await engine.handle({ type: "flush" });
    assert.equal(await savedClicks(storage), [1, 2], "saved once, each click once");
    assert.is(calls.append, 0, "never written as a segment");
  } finally {
    await stop();
  }
});

test("another instance's lease, let go before these frames reached the store: they are finalized here after the append, not left for the sweep", async () => {
  const { storage, store, calls } = countingStore();
  let claims = 0;
  // The first claim meets another instance's lease; it has let go by the next.
  const contended: RecordingStorage = { ...store, claim: (id, owner, ttl) => (claims++ === 0 ? Promise.resolve(false) : storage.claim(id, owner, ttl)) };
  const { engine, write, stop } = await engineOn(contended);
  try {
    write([start(false), MOUNT, ...click(1), ...click(2), END]);
    await engine.handle({ type: "flush" });
    assert.is(calls.append, 1, "control: the lease was taken, so the frames went as a segment");
    assert.equal(await savedClicks(storage), [1, 2], "finalized here");
    assert.equal(await storage.loadSegments(ID), [], "its segment merged and deleted");
  } finally {
    await stop();
  }
});

test("erased while its last frames were being saved: the engine's count of held characters stays exact", async () => {
  const { store } = countingStore();
  const { store: held, entered: inSave, release } = firstCallHeld(store, "save");
  const { engine, write, stop } = await engineOn(held);
  const stats = async () => (await engine.handle({ type: "stats" })) as EngineStats;
  try {
    write([start(false), MOUNT, ...click(1), ...click(2), END]);
    const flushed = engine.handle({ type: "flush" });
    await inSave;
    assert.ok((await stats()).heldChars > 0, "control: its frames are held");
    const erased = engine.handle({ type: "erase", erasure: { id: "erase1", at: Date.now(), until: Date.now() + 600_000, recordingId: ID } });
    await waitFor(async () => (await stats()).active === 0, "the erasure to forget the recording");
    release();
    await Promise.all([flushed, erased]);
    assert.is((await stats()).heldChars, 0, "nothing held, nothing taken off twice");
  } finally {
    release();
    await stop();
  }
});

test("work that comes due while the recording's store work is under way runs after it, not instead of it", async () => {
  const { storage, store } = countingStore();
  const { store: held, entered: inSave, release, calls: saves } = firstCallHeld(store, "save");
  const { engine, write, stop } = await engineOn(held);
  try {
    write([start(false), MOUNT, ...click(1), ...click(2), leave(201, 3)]);
    const first = engine.handle({ type: "flush" });
    await inSave;
    // The session came back here while its finalization was under way, and went away again (close() sends a leave).
    write([start(false), ...click(3), leave(301, 4)]);
    const second = engine.handle({ type: "flush" });
    release();
    await Promise.all([first, second]);
    assert.is(saves(), 2, "control: the second flush saved again");
    assert.equal(await savedClicks(storage), [1, 2, 3], "saved whole once both flushes answered");
  } finally {
    release();
    await stop();
  }
});

test("an end that comes while a flush waits for a finalization of a recording held elsewhere is not lost to the leave before it", async () => {
  const { storage, store } = countingStore();
  // Another instance served the recording after this one let go of it: a leave alone finalizes nothing.
  await storage.appendSegment({ recordingId: ID, key: "instancebbbb-0000000000", lastAt: meta.startedAt + 5_000, text: [start(true), MOUNT, ...click(1)].join("\n") });
  const { store: held, entered: inClaim, release, calls: claims } = firstCallHeld(store, "claim");
  const { engine, write, stop } = await engineOn(held);
  const framesRead = async () => ((await engine.handle({ type: "stats" })) as EngineStats).frames;
  try {
    write([leave(100, 1)]);
    const first = engine.handle({ type: "flush" });
    await inClaim; // the finalization of that leave waits for the lease
    write([leave(200, 1)]);
    await waitFor(async () => (await framesRead()) === 2, "the second leave to be read");
    const second = engine.handle({ type: "flush" }); // its job for the second leave waits for the first finalization
    write([END]); // c.var.replay.end() on this instance: finalized whatever other instances did
    await waitFor(async () => (await framesRead()) === 3, "the end to be read");
    release();
    await Promise.all([first, second]);
    await engine.handle({ type: "flush" });
    assert.ok(claims() >= 2, "control: the lease was asked for again after the first finalization");
    assert.equal(await savedClicks(storage), [1], "the end finalized it");
  } finally {
    release();
    await stop();
  }
});

async function assertNotSaved(storage: RecordingStorage) {
  const saved = await storage.load(ID).then(() => true, () => false);
  assert.is(saved, false, "not finalized here");
}

test.run();
