/**
 * Recovery of a dead instance's journal (worker/orphans.ts) when the instance
 * was killed with a segment append under way: the store took the segment, the
 * instance died before its journal recorded it (the done marker), so the
 * journal still holds those frames. Recovery must write them under the key
 * the instance wrote them under, which replaces that segment, instead of
 * adding a second copy — for a journal left by a kill, one released at
 * shutdown, and one whose first recoverer was killed mid-recovery too.
 * And the store sweep of a running engine (engine.ts maintain) must not
 * finalize that recording before the journal is recovered: finalizing deletes
 * the segment, and the recovered one, with nothing left to replace, would be
 * merged a second time.
 *
 * Deterministic, no timing: a store that keeps a segment and then never
 * answers stops a real engine exactly there, and a copy of its journal is
 * handed over as a dead process's (a dead pid, untouched for minutes).
 */

import { copyFileSync, mkdtempSync, readdirSync, renameSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assembleSegments, decodeRecordingColumns, encode, frame, FrameKind, payload } from "../format/mod.ts";
import { memoryStorage, type RecordingStorage } from "../mod.ts";
import type { Segment } from "../storage/mod.ts";
import { Engine } from "./engine.ts";
import type { EngineStats } from "./engine_types.ts";
import { counterRecording, quietEngineOptions, stallingStore } from "./engine.fixture.ts";
import { Journal } from "./journal.ts";
import { claimedName } from "./journal_name.ts";
import { createRingBuffer, RingWriter } from "./ring.ts";

const temps: string[] = [];
test.after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function privateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-orphans-"));
  temps.push(dir);
  return dir;
}

const ID = "0rec-killed";
const { start, mount: MOUNT, click } = counterRecording(ID);
const START = start();
/** Two genuine frames that are identical, header and payload: a server push twice in one millisecond of one request. */
const TWIN_PUSHES = [frame(ID, FrameKind.info, 350, "tick", payload.info(), 4), frame(ID, FrameKind.info, 350, "tick", payload.info(), 4)];

const warnings: string[] = [];
const logger = { warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };

/**
 * A real engine records requests 1–2 and writes them as a segment (its
 * journal marks them done); then requests 3–4 and the twin pushes, whose
 * segment the store takes while the engine never hears back; then request 5,
 * which reaches only its journal. Returns the store and a copy of that journal
 * named as a dead process's (`name(instance)`), untouched for minutes.
 */
async function killedMidAppend(name: (instance: string) => string) {
  const storage = memoryStorage();
  const { store, stall, stalled, release } = stallingStore(storage);
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  const write = (lines: string[]) => lines.forEach((line) => assert.ok(ring.write(line), "the ring takes the frame"));
  const deadDir = privateDir();
  const dead = new Engine(buffer, store, quietEngineOptions("deadinstance1", deadDir), logger, "poll");
  await dead.start();

  write([START, MOUNT, ...click(1), ...click(2)]);
  await dead.handle({ type: "flush" });
  write([...click(3), ...TWIN_PUSHES, ...click(4)]);
  stall();
  const stuck = dead.handle({ type: "flush" });
  await stalled;
  write(click(5));
  // A flush drains the ring into the journal before it waits for the store (its segment is still under way).
  const drained = dead.handle({ type: "flush" });

  const journalName = readdirSync(deadDir).find((n) => n.endsWith(".journal"))!;
  const recoverDir = privateDir();
  const orphan = join(recoverDir, name("deadinstance1"));
  copyFileSync(join(deadDir, journalName), orphan);
  const then = new Date(Date.now() - 5 * 60_000);
  utimesSync(orphan, then, then);

  // The copy is the kill's journal: requests 3–5 not marked done, 1–2 done.
  const held = Journal.read(orphan);
  assert.equal(held.frames, [START, ...click(3), ...TWIN_PUSHES, ...click(4), ...click(5)], "the journal still holds the stalled segment's frames, and request 5");
  assert.is(held.sent.get(ID), 5, "and says 5 frames (the mount, requests 1–2) are in the store");
  const before = assembleSegments(ID, await storage.loadSegments(ID))!;
  assert.equal(eventPayloads(before.columns), [1, 2, 3, 4].map((i) => payload.event(encode({ i }))), "the store has requests 1–4: the stalled segment overlaps the journal");

  return {
    storage,
    recoverDir,
    async cleanup() {
      release();
      await Promise.all([stuck, drained]);
      await dead.handle({ type: "shutdown" });
    },
  };
}

function eventPayloads(columns: { kinds: string; payloads: string[] }): string[] {
  return columns.payloads.filter((_, i) => columns.kinds[i] === FrameKind.event);
}

/** Starts an engine on `dir` (it recovers orphaned journals before start() resolves) and shuts it down. */
async function recover(storage: RecordingStorage, dir: string, instanceId = "survivor0001") {
  const survivor = new Engine(createRingBuffer(64 * 1024), storage, quietEngineOptions(instanceId, dir), logger, "poll");
  await survivor.start();
  await survivor.handle({ type: "shutdown" });
  const live = /^[0-9x]+-\d+-survivor\d+\.journal$/; // a survivor still running (the last test's first) keeps its own
  assert.equal(readdirSync(dir).filter((n) => !live.test(n)), [], "the orphaned journal is recovered and removed");
}

async function assertEachOnce(storage: RecordingStorage, recovered: boolean) {
  const { columns, meta } = assembleSegments(ID, await storage.loadSegments(ID))!;
  assert.equal(eventPayloads(columns), [1, 2, 3, 4, 5].map((i) => payload.event(encode({ i }))), "every click once, in order: none lost, none repeated");
  assert.is(columns.kinds.split("").filter((k) => k === FrameKind.render).length, 5, "every render once");
  assert.is(columns.kinds.split("").filter((k) => k === FrameKind.info).length, 2, "the two identical pushes are two events: nothing is merged for looking alike");
  assert.is(meta.recovered, recovered, recovered ? "marked recovered: its instance crashed" : "not marked recovered: released on a clean shutdown");
  assert.is((await storage.loadSegments(ID)).length, 2, "the first segment, and the recovered one in place of the stalled one");
  assert.equal(warnings, []);
}

/** A dead process's journal, as its engine named it. */
const deadName = (instance: string) => `x-${2 ** 22 + 1}-${instance}.journal`;

test("a journal recovered after a kill mid-append replaces the segment the store took, instead of repeating its frames", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend(deadName);
  try {
    await recover(killed.storage, killed.recoverDir);
    await assertEachOnce(killed.storage, true);
  } finally {
    await killed.cleanup();
  }
});

test("a journal released at shutdown (the store failed) goes under its instance's keys too", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend((instance) => `released-${deadName(instance)}`);
  try {
    await recover(killed.storage, killed.recoverDir);
    await assertEachOnce(killed.storage, false);
  } finally {
    await killed.cleanup();
  }
});

test("an instance killed while recovering a journal: the next one recovers it again under the same keys", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend(deadName);
  // The first to recover it has its recovered segment taken by the store, and hears nothing back.
  const { store, stall, stalled, release } = stallingStore(killed.storage);
  stall();
  const first = new Engine(createRingBuffer(64 * 1024), store, quietEngineOptions("survivor0001", killed.recoverDir), logger, "poll");
  const starting = first.start();
  try {
    await stalled;
    const claimed = readdirSync(killed.recoverDir).filter((n) => n.startsWith("recovering-"));
    assert.is(claimed.length, 1, "it claimed the journal");
    // It stopped touching the claimed journal long ago: gone.
    const then = new Date(Date.now() - 5 * 60_000);
    utimesSync(join(killed.recoverDir, claimed[0]), then, then);
    await recover(killed.storage, killed.recoverDir, "survivor0002");
    await assertEachOnce(killed.storage, true);
  } finally {
    release();
    await starting;
    await first.handle({ type: "shutdown" });
    await killed.cleanup();
  }
});

/**
 * A survivor that is already running when the dead instance's journal goes
 * stale (the common case: an instance of a fleet dies, the others run on).
 * Its start-up recovery found nothing: the journal was touched a moment ago.
 */
async function runningSurvivor(storage: RecordingStorage, dir: string): Promise<{ survivor: Engine; orphanGoesStale(): void }> {
  const orphan = join(dir, deadName("deadinstance1"));
  const now = new Date();
  utimesSync(orphan, now, now);
  const survivor = new Engine(createRingBuffer(64 * 1024), storage, quietEngineOptions("survivor0001", dir), logger, "poll");
  await survivor.start();
  assert.ok(readdirSync(dir).includes(deadName("deadinstance1")), "start-up left the live-looking journal alone");
  const then = new Date(Date.now() - 5 * 60_000);
  return { survivor, orphanGoesStale: () => utimesSync(orphan, then, then) };
}

/** The saved recording: every click, render and push of the dead instance exactly once, finalized as abandoned; no segment left over. */
async function assertSavedOnce(storage: RecordingStorage) {
  const { columns, meta } = decodeRecordingColumns(ID, await storage.load(ID));
  assert.equal(eventPayloads(columns), [1, 2, 3, 4, 5].map((i) => payload.event(encode({ i }))), "every click once, in order: request 5 (only in the journal) is in, requests 3–4 are not repeated");
  assert.is(columns.kinds.split("").filter((k) => k === FrameKind.render).length, 5, "every render once");
  assert.is(columns.kinds.split("").filter((k) => k === FrameKind.info).length, 2, "the two identical pushes are two events, not four");
  assert.is(meta.recovered, true, "marked recovered: the sweep finalized it, nobody ended it");
  assert.equal(await storage.loadSegments(ID), [], "nothing left for a later finalization to merge again");
}

test("the store sweep does not finalize a recording before the dead instance's journal is recovered (finalized before recovered: repeated frames)", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend(deadName);
  const { survivor, orphanGoesStale } = await runningSurvivor(killed.storage, killed.recoverDir);
  try {
    // The sweep would finalize this recording now: its last activity is older than the idle timeout, and this instance holds none of it.
    const segments = await killed.storage.loadSegments(ID);
    assert.is(segments.length, 2);
    assert.ok(segments.every((s) => s.lastAt < Date.now() - quietEngineOptions("", "").idleTimeoutMs), "idle in the store");
    orphanGoesStale();
    await survivor.handle({ type: "maintain" });
    // A second run finalizes whatever the first one left in the store (a recovered segment, were it recovered after the sweep).
    await survivor.handle({ type: "maintain" });
    assert.equal(readdirSync(killed.recoverDir).filter((n) => n.includes("deadinstance1")), [], "the journal was recovered");
    await assertSavedOnce(killed.storage);
    assert.equal(warnings, []);
  } finally {
    await survivor.handle({ type: "shutdown" });
    await killed.cleanup();
  }
});

/**
 * `storage`, except that once `hold()` was called the next segment append
 * waits before it is stored (until `release()`); `held` resolves then.
 * `sweptWhileHeld` says whether the store was listed (the store sweep starts
 * so) while that append waited.
 */
function holdingStore(storage: RecordingStorage) {
  let holdNext = false;
  let holding = false;
  let reached!: () => void;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const state = { sweptWhileHeld: false };
  const store: RecordingStorage = {
    ...storage,
    async appendSegment(segment: Segment) {
      if (holdNext) {
        holdNext = false;
        holding = true;
        reached();
        await released;
        holding = false;
      }
      await storage.appendSegment(segment);
    },
    listSegments() {
      if (holding) state.sweptWhileHeld = true;
      return storage.listSegments();
    },
  };
  return { store, hold: () => void (holdNext = true), held, release, state };
}

test("the store sweep waits for a recovery under way in the same engine (one at start-up, slow to write its segment)", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend(deadName);
  const { store, hold, held, release, state } = holdingStore(killed.storage);
  hold();
  const survivor = new Engine(createRingBuffer(64 * 1024), store, quietEngineOptions("survivor0001", killed.recoverDir), logger, "poll");
  const starting = survivor.start();
  try {
    await held; // start-up claimed the journal; its recovered segment is not in the store yet
    const maintained = survivor.handle({ type: "maintain" });
    release();
    await Promise.all([starting, maintained]);
    assert.is(state.sweptWhileHeld, false, "the sweep did not start while the recovery's segment was on its way");
    await survivor.handle({ type: "maintain" });
    await assertSavedOnce(killed.storage);
    assert.equal(warnings, []);
  } finally {
    release();
    await starting;
    await survivor.handle({ type: "shutdown" });
    await killed.cleanup();
  }
});

test("a recovery that keeps failing holds the store sweep back at most idleTimeoutMs", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend(deadName);
  // Segments cannot be written (the recovered one fails); what is in the store can still be finalized.
  const store: RecordingStorage = { ...killed.storage, appendSegment: () => Promise.reject(new Error("segments refused")) };
  const { survivor, orphanGoesStale } = await runningSurvivor(store, killed.recoverDir);
  const idle = quietEngineOptions("", "").idleTimeoutMs;
  const saved = () => killed.storage.load(ID).then(() => true, () => false);
  try {
    orphanGoesStale();
    const now = Date.now();
    await survivor.maintain(now);
    await survivor.maintain(now + idle);
    assert.is(await saved(), false, "not swept while the recovery fails, for up to idleTimeoutMs");
    assert.is((await killed.storage.loadSegments(ID)).length, 2);
    await survivor.maintain(now + idle + 1);
    assert.is(await saved(), true, "then swept all the same: a journal that cannot be delivered does not hold recordings back for good");
    assert.ok(readdirSync(killed.recoverDir).some((n) => n.startsWith("released-") && n.includes("deadinstance1")), "the journal is given back, for a later recovery");
    assert.is(warnings.length, 1, "the failure is warned of (once)");
    assert.match(warnings[0], /recovering orphaned journals failed \(segments refused\)/);
  } finally {
    await survivor.handle({ type: "shutdown" });
    await killed.cleanup();
  }
});

test("an engine whose recovery of an orphaned journal fails at start (the store is down) still starts and counts it, rather than rejecting with its loop running", async () => {
  warnings.length = 0;
  const dir = privateDir();
  const orphan = join(dir, deadName("deadinstance1"));
  const journal = new Journal(orphan);
  journal.append([START, MOUNT, ...click(1)], 0);
  journal.close();
  const then = new Date(Date.now() - 5 * 60_000);
  utimesSync(orphan, then, then);
  const down: RecordingStorage = { ...memoryStorage(), appendSegment: () => Promise.reject(new Error("store down")) };
  const engine = new Engine(createRingBuffer(64 * 1024), down, quietEngineOptions("survivor0001", dir), logger, "poll");
  try {
    // A start that rejected here had its loop running all the same: the host would then start another engine on the ring.
    await engine.start();
    const stats = (await engine.handle({ type: "stats" })) as EngineStats;
    assert.ok(stats.saveFailures >= 1, "the failed recovery is counted as a store failure (retried by maintenance)");
    assert.ok(warnings.some((w) => /recovering orphaned journals failed \(store down\)/.test(w)), `warned: ${warnings.join(" | ")}`);
  } finally {
    await engine.handle({ type: "shutdown" });
  }
});

test("the store sweep waits while another instance sharing the journal directory is recovering the dead instance's journal", async () => {
  warnings.length = 0;
  const killed = await killedMidAppend(deadName);
  const { survivor, orphanGoesStale } = await runningSurvivor(killed.storage, killed.recoverDir);
  try {
    orphanGoesStale();
    // Another instance claimed the journal a moment ago (claiming touches it); its recovered segment is not in the store yet.
    const claimed = join(killed.recoverDir, claimedName("survivor0002", deadName("deadinstance1")));
    renameSync(join(killed.recoverDir, deadName("deadinstance1")), claimed);
    const now = new Date();
    utimesSync(claimed, now, now);
    await survivor.maintain();
    assert.is(await killed.storage.load(ID).then(() => true, () => false), false, "not finalized while the claim is fresh");
    assert.is((await killed.storage.loadSegments(ID)).length, 2, "its segments stay for the recovered one to replace");
    // The claimer died: its claim goes stale, this instance recovers the journal, then sweeps.
    const then = new Date(Date.now() - 5 * 60_000);
    utimesSync(claimed, then, then);
    await survivor.maintain();
    assert.equal(readdirSync(killed.recoverDir).filter((n) => n.includes("deadinstance1")), [], "the journal was recovered here");
    await assertSavedOnce(killed.storage);
    assert.equal(warnings, []);
  } finally {
    await survivor.handle({ type: "shutdown" });
    await killed.cleanup();
  }
});

test.run();
