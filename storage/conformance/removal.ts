/**
 * Conformance cases: removal. delete reports whether there was something to
 * delete, clear empties the storage and leaves it working, cleanup removes by
 * age and by count exactly what the policy says (storage/filter.ts
 * `idsToClean`), also when two instances clean up at once.
 */

import { decodeRecordingFile, RecordingNotFoundError } from "../../format/mod.ts";
import { idsToClean, pageSummaries } from "../filter.ts";
import { fixtureRecording, fixtureSet, MINUTE, T0 } from "./fixtures.ts";
import { assert, type Harness, ids, rejects, saveAll } from "./harness.ts";

export function removalCases(h: Harness): void {
  const { test } = h;
  test("delete removes one recording and reports whether it existed", () => deleteOne(h));
  test("clear removes everything, and the storage keeps working after", () => clearAll(h));
  test("cleanup by age deletes what is older than maxAgeMs, and only that", () => cleanupByAge(h));
  test("cleanup by count keeps the newest maxRecordings", () => cleanupByCount(h));
  test("cleanup run by two instances at once deletes each recording once, and nothing else", () => cleanupRace(h));
}

async function deleteOne(h: Harness): Promise<void> {
  const { storage, other } = h;
  const all = fixtureSet().slice(0, 4);
  await saveAll(storage, all);
  assert.is(await storage.delete(all[1].summary.id), true);
  assert.is(await storage.delete(all[1].summary.id), false, "already gone");
  assert.is(await other.delete("0zzz-never-saved"), false);
  await rejects(() => storage.load(all[1].summary.id), RecordingNotFoundError);
  assert.equal(ids((await storage.list({ order: "asc" })).items), [all[0], all[2], all[3]].map((f) => f.summary.id));
  for (const f of [all[0], all[2], all[3]]) assert.equal([...(await storage.load(f.summary.id))], [...f.bytes]);
}

async function clearAll(h: Harness): Promise<void> {
  const { storage, other } = h;
  await saveAll(storage, fixtureSet());
  await storage.clear();
  assert.equal((await storage.list()).items, []);
  assert.equal((await other.list()).items, []);
  await rejects(() => storage.load("0aaa-signup-1"), RecordingNotFoundError);
  const again = fixtureRecording({ id: "0aaz-after-clear", startedAt: T0 });
  await storage.save(again.summary, again.bytes);
  assert.equal(ids((await storage.list()).items), ["0aaz-after-clear"]);
}

async function cleanupByAge(h: Harness): Promise<void> {
  const { storage } = h;
  const all = fixtureSet();
  await saveAll(storage, all);
  const policy = { maxRecordings: 1000, maxAgeMs: 10 * MINUTE, now: T0 + 16 * MINUTE };
  const deleted = await storage.cleanup(policy);
  const expected = all.filter((f) => f.summary.startedAt < T0 + 6 * MINUTE).map((f) => f.summary.id);
  assert.is(expected.length, 6);
  assert.equal([...deleted].sort(), expected.sort());
  assert.equal(ids((await storage.list({ order: "asc" })).items), all.slice(6).map((f) => f.summary.id));
  for (const id of expected) await rejects(() => storage.load(id), RecordingNotFoundError);
  assert.equal(await storage.cleanup(policy), [], "nothing more to delete");
}

async function cleanupByCount(h: Harness): Promise<void> {
  const { storage } = h;
  const all = fixtureSet();
  await saveAll(storage, all);
  const deleted = await storage.cleanup({ maxRecordings: 5, maxAgeMs: 1e12, now: T0 + 20 * MINUTE });
  const newest = ids(pageSummaries(all.map((f) => f.summary)).items).slice(0, 5);
  assert.equal(ids((await storage.list()).items), newest);
  assert.is(deleted.length, all.length - 5);
  assert.equal([...deleted].sort(), all.map((f) => f.summary.id).filter((id) => !newest.includes(id)).sort());
  for (const id of newest) decodeRecordingFile(id, await storage.load(id));
}

async function cleanupRace(h: Harness): Promise<void> {
  const { storage, other } = h;
  const all = fixtureSet();
  await saveAll(storage, all);
  const policy = { maxRecordings: 9, maxAgeMs: 8 * MINUTE, now: T0 + 15 * MINUTE };
  const expected = idsToClean(all.map((f) => f.summary), policy);
  assert.is(expected.length, 7, "the age limit removes more than the count limit would (5)");
  const results = await Promise.all([storage.cleanup(policy), other.cleanup(policy), storage.cleanup(policy), other.cleanup(policy)]);
  const deleted = results.flat();
  assert.equal([...deleted].sort(), [...expected].sort(), "each doomed id reported once in all");
  assert.equal(
    ids((await storage.list()).items),
    ids(pageSummaries(all.map((f) => f.summary)).items).filter((id) => !expected.includes(id)),
  );
}
