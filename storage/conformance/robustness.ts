/**
 * Conformance cases: what a storage meets in production. Concurrent writers
 * on two handles (each recording kept whole, a race on one id won whole), a
 * 10,000-event recording, unknown and hostile ids, and corrupt stored data
 * (a clear error for that recording, the others still list and replay).
 */

import { CorruptRecordingError, decodeRecordingFile, InvalidIdError, RecordingNotFoundError } from "../../format/mod.ts";
import { Player } from "../../replay/mod.ts";
import { damaged, FixtureView, fixtureRecording, fixtureSet, HOSTILE_IDS, T0 } from "./fixtures.ts";
import { assert, type Harness, ids, rejects, saveAll } from "./harness.ts";

export function robustnessCases(h: Harness): void {
  const { test } = h;
  test("concurrent writers on two handles: every recording is kept whole", () => concurrentWriters(h));
  test("a 10,000-event recording is stored, listed and replayed whole", () => bigRecording(h));
  test("unknown ids are RecordingNotFoundError; hostile ids touch nothing", () => unknownAndHostileIds(h));
  test("corrupt stored data: a clear error for that recording, every other one still lists and replays", () => corruptData(h));
}

async function concurrentWriters(h: Harness): Promise<void> {
  const { storage, other } = h;
  const many = Array.from({ length: 40 }, (_, i) =>
    fixtureRecording({ id: `0c${String(i).padStart(2, "0")}-writer`, startedAt: T0 + i * 1000, events: 5 + (i % 7), noise: 40 }));
  await Promise.all(many.map((f, i) => (i % 2 ? other : storage).save(f.summary, f.bytes)));
  assert.equal(ids((await storage.list({ order: "asc" })).items), many.map((f) => f.summary.id));
  const loaded = await Promise.all(many.map((f, i) => (i % 3 ? storage : other).load(f.summary.id)));
  loaded.forEach((bytes, i) => assert.equal([...bytes], [...many[i].bytes], `recording ${i}`));
  // Two writers racing on one id: one of them wins, whole.
  const a = fixtureRecording({ id: "0cxx-race", startedAt: T0, events: 11, noise: 30 });
  const b = fixtureRecording({ id: "0cxx-race", startedAt: T0, events: 25, noise: 30, eventNames: ["other"] });
  await Promise.all([storage.save(a.summary, a.bytes), other.save(b.summary, b.bytes)]);
  const winner = decodeRecordingFile("0cxx-race", await storage.load("0cxx-race"));
  assert.ok([11, 25].includes(winner.events.length), "one writer's recording, not a mix");
  assert.is((await storage.list({ urlContains: "fixture" })).items.filter((s) => s.id === "0cxx-race").length, 1);
}

async function bigRecording(h: Harness): Promise<void> {
  const { storage, other } = h;
  const big = fixtureRecording({ id: "0big-10k", view: "Fixture", startedAt: T0, events: 10_000, durationMs: 3_600_000, noise: 120, eventNames: ["type", "paste"] });
  assert.ok(big.bytes.length > 512 * 1024, `the fixture is large (${big.bytes.length} bytes)`);
  const small = fixtureRecording({ id: "0big-small", startedAt: T0 + 1 });
  await storage.save(big.summary, big.bytes);
  await storage.save(small.summary, small.bytes);
  const [summary] = (await storage.list({ minEvents: 10_000 })).items;
  assert.equal(summary, big.summary);
  const bytes = await other.load("0big-10k");
  assert.is(bytes.length, big.bytes.length);
  assert.equal([...bytes], [...big.bytes]);
  const recording = await h.store().getRecording("0big-10k");
  assert.is(recording.events.length, 10_000);
  assert.equal(recording.events[9_999], big.events[9_999]);
  const player = new Player(recording, FixtureView);
  assert.is(player.frameCount, 5_000);
  assert.is(player.renderFrame(player.frameCount - 1).html, "<p>Fixture 4999</p>");
  assert.is(player.renderAt(1_800_000).html, "<p>Fixture 2499</p>");
}

async function unknownAndHostileIds(h: Harness): Promise<void> {
  const { storage } = h;
  const kept = fixtureSet().slice(0, 3);
  await saveAll(storage, kept);
  const error = await rejects(() => storage.load("0zzz-unknown"), RecordingNotFoundError);
  assert.is((error as RecordingNotFoundError).id, "0zzz-unknown");
  await rejects(() => h.store().getRecording("0zzz-unknown"), RecordingNotFoundError);
  for (const id of HOSTILE_IDS) {
    await rejects(() => storage.load(id), InvalidIdError, RecordingNotFoundError);
    try {
      assert.is(await storage.delete(id), false, `delete(${JSON.stringify(id)})`);
    } catch (error) {
      assert.instance(error, InvalidIdError);
    }
    if (h.target.validatesIds !== false) {
      const hostile = { ...kept[0].summary, id };
      await rejects(() => storage.save(hostile, kept[0].bytes), InvalidIdError);
    }
    await rejects(() => h.store().getRecording(id), InvalidIdError);
    await rejects(() => h.store().deleteRecording(id), InvalidIdError);
  }
  assert.equal(ids((await storage.list({ order: "asc" })).items), kept.map((f) => f.summary.id));
  for (const f of kept) assert.equal([...(await storage.load(f.summary.id))], [...f.bytes]);
}

async function corruptData(h: Harness): Promise<void> {
  const { storage } = h;
  const all = fixtureSet().slice(0, 5);
  await saveAll(storage, all);
  const victim = all[2];
  if (h.target.corrupt) await h.target.corrupt(storage, victim.summary.id, victim.bytes);
  else await storage.save(victim.summary, damaged(victim.bytes));
  const error = await rejects(() => h.store().getRecording(victim.summary.id), CorruptRecordingError);
  assert.is((error as CorruptRecordingError).id, victim.summary.id);
  assert.match(error.message, victim.summary.id);
  assert.equal(ids((await storage.list({ order: "asc" })).items), all.map((f) => f.summary.id), "still listed, with the others");
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (message: string) => warnings.push(String(message));
  let good;
  try {
    good = await h.store().listRecordings({ order: "asc" });
  } finally {
    console.warn = warn;
  }
  assert.equal(good.map((r) => r.id), all.filter((f) => f !== victim).map((f) => f.summary.id));
  assert.is(warnings.length, 1);
  assert.match(warnings[0], victim.summary.id);
  for (const recording of good) {
    const last = new Player(recording, FixtureView).renderFrame(recording.events.filter((e) => e.kind !== "event").length - 1);
    assert.match(last.html, /^<p>\w+ \d+<\/p>$/);
  }
  // Deleting the corrupt one works and leaves the rest.
  assert.is(await storage.delete(victim.summary.id), true);
  assert.is((await storage.list()).items.length, all.length - 1);
}
