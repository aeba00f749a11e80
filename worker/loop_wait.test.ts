/**
 * How the drain loop waits for the ring (worker/loop_wait.ts `nextWait`, with
 * worker/drain.ts `nextDueIn`). After reading frames it paces itself; after
 * reading none it sleeps until the first frame is written or a segment is due
 * by age: a quiet instance must not wake 40 times a second for as long as its
 * recordings stay active. That the first frame ends an idle wait is
 * worker/ring.test.ts's.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { AGE_STRETCH_MAX, AGED_SEGMENTS_PER_SECOND, Drainer } from "./drain.ts";
import { nextWait } from "./loop_wait.ts";
import { frame, FrameKind } from "../format/mod.ts";
import { counterRecording } from "./engine.fixture.ts";

const ID = "0rec-waiting";
const { start, mount, click } = counterRecording(ID);
/** The segment policy these tests drain with: a size bound of its own (the rule, not the default), and the default age. */
const POLICY = { maxChars: 64 * 1024, maxAgeMs: 1_000 };

test("after frames the loop paces itself; after none it waits for the first frame, at most until a segment is due", () => {
  const paced = nextWait(3, 5_000);
  assert.is(paced.mode, "paced");
  assert.ok(paced.timeoutMs <= 50, `paced: looks again within tens of ms (${paced.timeoutMs})`);
  assert.equal(nextWait(0, undefined), { timeoutMs: 250, mode: "idle" }, "nothing due: the writer wakes it, or the store's due work at 250 ms");
  assert.equal(nextWait(0, 120), { timeoutMs: 120, mode: "idle" }, "a segment due in 120 ms: up then");
  assert.equal(nextWait(0, 0), { timeoutMs: paced.timeoutMs, mode: "idle" }, "due now but not sent (a write under way): no spinning");
  assert.equal(nextWait(0, 10_000), { timeoutMs: 250, mode: "idle" });
});

test("nextDueIn: when the oldest unsent frame of a recording someone interacted with is maxAgeMs old; an ending one at once; nothing for frames alone", () => {
  const drainer = new Drainer(() => {}, POLICY);
  assert.is(drainer.nextDueIn(0), undefined, "no recordings");
  drainer.ingest([start(false), mount], 0);
  assert.is(drainer.nextDueIn(10), undefined, "a mount alone waits for an interaction (it may be discarded): nothing due by time");
  drainer.ingest(click(1), 400);
  assert.is(drainer.nextDueIn(500), 500, "unsent since 0, due at 1,000");
  const rec = drainer.get(ID)!;
  drainer.sent(rec, rec.unsent.length, 1_000);
  assert.is(drainer.nextDueIn(1_100), undefined, "everything sent: nothing due until frames come");
  rec.ending = {};
  assert.is(drainer.nextDueIn(1_100), 0, "an ending recording: its store work is due");
});

test("nextDueIn: a full segment (maxChars) is due at once, as due() has it, however young its frames", () => {
  const held = [mount, ...click(1)];
  const maxChars = held.reduce((chars, line) => chars + line.length, 0) + 1;
  const drainer = new Drainer(() => {}, { maxChars, maxAgeMs: 1_000 });
  drainer.ingest([start(false), ...held], 0);
  assert.is(drainer.nextDueIn(10), 990, "control: a character short of full, due by age");
  drainer.ingest(click(2), 20);
  assert.is(drainer.nextDueIn(30), 0, "full: due now");
  assert.equal(drainer.due(30), [drainer.get(ID)], "due() agrees");
});

test("a segment is full by its characters, not its frames: a session typed at machine speed is not cut into segments of a few hundred frames", () => {
  const drainer = new Drainer(() => {}, POLICY);
  drainer.ingest([start(false), mount], 0);
  for (let i = 1; i <= 200; i++) drainer.ingest(click(i), 1 + i);
  const rec = drainer.get(ID)!;
  assert.is(rec.unsent.length, 401, "control: 401 frames held, more than the 256 a segment used to hold");
  assert.ok(rec.unsentChars < POLICY.maxChars, `control: under maxChars (${rec.unsentChars})`);
  assert.equal(drainer.due(300), [], "not due: small and young");
  assert.is(drainer.nextDueIn(300), 700, "due by age");
  const big = "x".repeat(POLICY.maxChars);
  drainer.ingest([frame(ID, FrameKind.info, 310, "note", big, 202)], 310);
  assert.equal(drainer.due(320), [rec], "past maxChars: due at once");
});

test("many recordings holding frames: each segment waits longer, so segments due by age stay at about AGED_SEGMENTS_PER_SECOND, up to AGE_STRETCH_MAX", () => {
  const drainer = new Drainer(() => {}, POLICY);
  const typing = sessionsOf(drainer);
  typing(AGED_SEGMENTS_PER_SECOND, 0);
  assert.is(drainer.segmentAgeMs(), 1_000, "control: up to the rate, maxAgeMs");
  assert.is(drainer.nextDueIn(0), 1_000);
  assert.is(drainer.due(1_000).length, AGED_SEGMENTS_PER_SECOND, "control: all due at maxAgeMs");
  typing(AGED_SEGMENTS_PER_SECOND * 3, 0);
  assert.is(drainer.segmentAgeMs(), 4_000, "four times the rate: four times as long");
  assert.is(drainer.nextDueIn(0), 4_000, "the loop sleeps until then");
  assert.equal(drainer.due(3_999), [], "none due before");
  assert.is(drainer.due(4_000).length, AGED_SEGMENTS_PER_SECOND * 4, "all due then (four seconds' worth, once)");
  assert.is(drainer.due(0, true).length, AGED_SEGMENTS_PER_SECOND * 4, "a flush sends everything at once");
  typing(AGED_SEGMENTS_PER_SECOND * 10, 0);
  assert.is(drainer.segmentAgeMs(), AGE_STRETCH_MAX * 1_000, "stretched at most AGE_STRETCH_MAX times");
});

test("the engine's bounds on stretching: a cap (a quarter of the idle timeout), none near the held-characters bound", () => {
  const capped = new Drainer(() => {}, { ...POLICY, stretch: { maxMs: 2_500, belowChars: Infinity } });
  sessionsOf(capped)(AGED_SEGMENTS_PER_SECOND * 4, 0);
  assert.is(capped.segmentAgeMs(), 2_500, "capped");
  const full = new Drainer(() => {}, { ...POLICY, stretch: { maxMs: Infinity, belowChars: 1 } });
  sessionsOf(full)(AGED_SEGMENTS_PER_SECOND * 4, 0);
  assert.ok(full.heldChars >= 1, "control: frames are held");
  assert.is(full.segmentAgeMs(), 1_000, "holding that much: maxAgeMs");
});

test("a recording another instance served too is never held back: joined here, or a request counter that skipped one", () => {
  const drainer = new Drainer(() => {}, POLICY);
  sessionsOf(drainer)(AGED_SEGMENTS_PER_SECOND * 3, 0);
  assert.is(drainer.segmentAgeMs(), 3_000, "control: stretched");
  const joined = counterRecording("0rec-joined");
  drainer.ingest([joined.start(true), ...joined.click(4)], 0);
  const skipped = counterRecording("0rec-skipped");
  drainer.ingest([skipped.start(false), skipped.mount, ...skipped.click(1), ...skipped.click(3)], 0);
  const alone = counterRecording("0rec-alone");
  drainer.ingest([alone.start(false), alone.mount, ...alone.click(1), ...alone.click(2)], 0);
  const dueAt1s = drainer.due(1_000).map((r) => r.id);
  assert.equal(dueAt1s.sort(), ["0rec-joined", "0rec-skipped"], "the shared ones at maxAgeMs, not the one only this instance served");
});

/** Adds `n` recordings, each with a mount and a click, at wall clock `at`. */
function sessionsOf(drainer: Drainer) {
  let sessions = 0;
  return (n: number, at: number) => {
    for (let i = 0; i < n; i++) {
      const r = counterRecording(`0rec-typing${sessions++}`);
      drainer.ingest([r.start(false), r.mount, ...r.click(1)], at);
    }
  };
}

test.run();
