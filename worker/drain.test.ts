/**
 * Segment keys of a recording that comes back to an instance (worker/drain.ts).
 * An instance that let a recording go while another instance carried it on
 * forgets it, but its segments stay in the store until the recording is
 * finalized. When the session's next request lands on it again, its new
 * segments must not take the keys of those it wrote before: a key is upserted,
 * so the first new segment would replace the first old one, frames and all.
 * Its count is remembered for the last recordings it finished; for one
 * forgotten longer ago, the store says where its keys stop.
 */

import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { frame, FrameKind } from "../format/mod.ts";
import { memoryStorage } from "../mod.ts";
import { Drainer } from "./drain.ts";
import { Engine } from "./engine.ts";
import { counterRecording, quietEngineOptions, stallingStore } from "./engine.fixture.ts";
import { Journal } from "./journal.ts";
import { createRingBuffer, RingWriter } from "./ring.ts";

const ID = "0rec-comesback";
const { meta, start, mount: MOUNT, click } = counterRecording(ID);
const { startedAt } = meta;
const options = quietEngineOptions("instanceaaaa");

test("an instance serving a recording again after letting it go writes new segment keys: what it wrote before is not replaced", async () => {
  const storage = memoryStorage();
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  const write = (lines: string[]) => lines.forEach((line) => assert.ok(ring.write(line), "the ring takes the frame"));
  const journalDir = mkdtempSync(join(tmpdir(), "hono-replay-drain-"));
  const engine = new Engine(buffer, storage, { ...options, journalDir }, { warn() {}, error() {} }, "poll");
  await engine.start();
  try {
    write([start(false), MOUNT, ...click(1), ...click(2)]);
    await engine.handle({ type: "flush" });
    // Another instance serves requests 3 and 4 (its segment is later than this one's last activity).
    await storage.appendSegment({ recordingId: ID, key: "instancebbbb-0000000000", lastAt: startedAt + 401, text: [start(true), ...click(3), ...click(4)].join("\n") });
    // This instance lets the recording go as of its own last request: another carries it on, so it is not finalized.
    write([frame(ID, FrameKind.leave, 201, String(startedAt + 201), "0", 3)]);
    await engine.handle({ type: "flush" });
    const before = await storage.loadSegments(ID);
    assert.is(before.length, 2, "control: not finalized, both instances' segments are there");
    assert.ok(before.some((s) => s.text.includes(click(1)[0])), "control: this instance's first segment holds request 1");
    // Its journal says where its keys stand, for a recovery of what comes next should it die.
    const [journal] = readdirSync(journalDir).filter((name) => name.endsWith(".journal"));
    assert.is(Journal.read(join(journalDir, journal)).sent.get(ID), 5, "the mount and four frames were sent");

    // Request 5 comes back to this instance.
    write([start(true), ...click(5)]);
    await engine.handle({ type: "flush" });
    const after = await storage.loadSegments(ID);
    assert.is(after.length, 3, `a new segment beside the earlier ones, not in place of one (${after.map((s) => s.key).join(", ")})`);
    for (const i of [1, 2, 3, 4, 5]) assert.ok(after.some((s) => s.text.includes(click(i)[0])), `request ${i} is in the store`);
  } finally {
    await engine.handle({ type: "shutdown" });
    rmSync(journalDir, { recursive: true, force: true });
  }
});

test("a recording this instance forgot long ago (no count remembered) comes back: the store says where its keys stop", async () => {
  const storage = memoryStorage();
  const dirs = [mkdtempSync(join(tmpdir(), "hono-replay-drain-")), mkdtempSync(join(tmpdir(), "hono-replay-drain-"))];
  // Two engines of one instance id: the second remembers nothing of the first, as after 512 other recordings finished.
  const engines = dirs.map((journalDir) => {
    const buffer = createRingBuffer(64 * 1024);
    return { ring: new RingWriter(buffer), engine: new Engine(buffer, storage, { ...options, journalDir }, { warn() {}, error() {} }, "poll") };
  });
  try {
    for (const { engine } of engines) await engine.start();
    const [first, second] = engines;
    for (const line of [start(false), MOUNT, ...click(1), ...click(2)]) assert.ok(first.ring.write(line));
    await first.engine.handle({ type: "flush" });
    const before = await storage.loadSegments(ID);
    assert.is(before.length, 1, "control: this instance's segment is in the store");

    for (const line of [start(true), ...click(3)]) assert.ok(second.ring.write(line));
    await second.engine.handle({ type: "flush" });
    const after = await storage.loadSegments(ID);
    assert.is(after.length, 2, `a new segment beside the earlier one (${after.map((s) => s.key).join(", ")})`);
    for (const i of [1, 2, 3]) assert.ok(after.some((s) => s.text.includes(click(i)[0])), `request ${i} is in the store`);
  } finally {
    for (const { engine } of engines) await engine.handle({ type: "shutdown" });
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker that died with a joined recording's first segment stored but not marked: its replacement replaces that segment, it does not repeat it", async () => {
  const storage = memoryStorage();
  const { store, stall, stalled, release } = stallingStore(storage);
  const journalDir = mkdtempSync(join(tmpdir(), "hono-replay-drain-"));
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  const dead = new Engine(buffer, store, { ...options, journalDir }, { warn() {}, error() {} }, "poll");
  let replacement: Engine | undefined;
  try {
    await dead.start();
    // This instance joins a recording another one mounted; its first segment is stored, and it never hears back.
    for (const line of [start(true), ...click(3)]) assert.ok(ring.write(line));
    stall();
    void dead.handle({ type: "flush" });
    await stalled;
    assert.is((await storage.loadSegments(ID)).length, 1, "control: the segment is in the store");

    // The host's replacement worker: the same instance, its journal (the frames, no count), nothing remembered.
    replacement = new Engine(buffer, storage, { ...options, journalDir }, { warn() {}, error() {} }, "poll");
    await replacement.start();
    await replacement.handle({ type: "flush" });
    const after = await storage.loadSegments(ID);
    assert.is(after.filter((s) => s.text.includes(click(3)[0])).length, 1, `request 3 once (${after.map((s) => s.key).join(", ")})`);
  } finally {
    release();
    await replacement?.handle({ type: "shutdown" });
    await dead.handle({ type: "shutdown" });
    rmSync(journalDir, { recursive: true, force: true });
  }
});

test("frames that came in while a segment was written are aged from then: the next segment waits for maxAgeMs again", () => {
  const drainer = new Drainer(() => {}, { maxChars: 64 * 1024, maxAgeMs: 1_000 });
  drainer.ingest([start(false), MOUNT, ...click(1)], 0);
  const rec = drainer.get(ID)!;
  assert.equal(drainer.due(999), [], "control: not due before maxAgeMs");
  assert.equal(drainer.due(1_000), [rec], "due once its oldest frame is maxAgeMs old");
  const { frames } = drainer.segmentOf(rec, "instancea");
  drainer.ingest(click(2), 1_005); // arrives while the segment is written
  drainer.sent(rec, frames, 1_000);
  assert.equal(rec.unsent, click(2), "what came in meanwhile is still unsent");
  assert.equal(drainer.due(1_050), [], "not due at the next check: it is 50 ms old, not 1,050");
  assert.equal(drainer.due(2_000), [rec], "due maxAgeMs after the segment was cut");
  drainer.sent(rec, 2, 2_000);
  drainer.ingest(click(3), 2_600);
  assert.equal(drainer.due(3_599), [], "a frame after an empty spell is aged from its own arrival");
  assert.equal(drainer.due(3_600), [rec]);
});

test.run();
