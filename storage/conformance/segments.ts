/**
 * Conformance cases: what instances sharing the store rely on (storage/types.ts
 * SegmentStore). Segments of one recording written by several instances, the
 * claim that lets exactly one of them finalize it, and the shared secret.
 */

import { InvalidIdError } from "../../format/mod.ts";
import { fixtureSet, HOSTILE_IDS } from "./fixtures.ts";
import { assert, type Harness, rejects } from "./harness.ts";

const seg = (recordingId: string, key: string, lastAt: number, text = `${recordingId}\ts\t0\t0\t\t{}`) => ({ recordingId, key, lastAt, text });
const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export function segmentCases(h: Harness): void {
  const { test } = h;
  test("segments: appended, listed by header, loaded whole, replaced by key, deleted by key", () => segmentLifecycle(h));
  test("segments: hostile recording ids are refused, and touch nothing", () => segmentHostileIds(h));
  test("segments: appends from two handles to one recording are all kept", () => segmentConcurrentAppends(h));
  test("segments: delete and clear remove them (erasure covers active recordings)", () => segmentErasure(h));
  test("claim: of two handles racing, exactly one wins; the winner renews; release and expiry free it", () => claimRace(h));
  test("sharedSecret: every handle gets the same one, made once; clear keeps it", () => sharedSecret(h));
}

async function segmentLifecycle(h: Harness): Promise<void> {
  const { storage, other } = h;
  const long = "x\t".repeat(50_000) + "ü€😀";
  await storage.appendSegment(seg("0rec-a", "i1-000001", 1_000));
  await storage.appendSegment(seg("0rec-a", "i2-000001", 2_000, long));
  await storage.appendSegment(seg("0rec-b", "i1-000001", 3_000));
  const loaded = (await other.loadSegments("0rec-a")).sort(byKey);
  assert.equal(loaded.map((s) => [s.recordingId, s.key, s.lastAt]), [["0rec-a", "i1-000001", 1_000], ["0rec-a", "i2-000001", 2_000]]);
  assert.is(loaded[1].text, long, "text survives whole, any characters");
  const headers = (await other.listSegments()).sort((a, b) => a.lastAt - b.lastAt);
  assert.equal(headers.map((info) => [info.recordingId, info.key, info.lastAt]), [["0rec-a", "i1-000001", 1_000], ["0rec-a", "i2-000001", 2_000], ["0rec-b", "i1-000001", 3_000]]);
  assert.not.ok("text" in headers[0] && (headers[0] as { text?: string }).text, "listing does not carry the text");
  // A retried append (same key) replaces, never duplicates.
  await storage.appendSegment(seg("0rec-a", "i1-000001", 1_500, "again"));
  const again = (await storage.loadSegments("0rec-a")).sort(byKey);
  assert.equal(again.map((s) => [s.key, s.lastAt, s.text.length]), [["i1-000001", 1_500, 5], ["i2-000001", 2_000, long.length]]);
  await other.deleteSegments("0rec-a", ["i1-000001", "nope-1"]);
  assert.equal((await storage.loadSegments("0rec-a")).map((s) => s.key), ["i2-000001"]);
  assert.equal(await storage.loadSegments("0unknown"), []);
  // Finalized recordings are untouched by segments, and the other way round.
  assert.is((await storage.list()).items.length, 0);
}

async function segmentHostileIds(h: Harness): Promise<void> {
  const { storage } = h;
  for (const id of HOSTILE_IDS) {
    await rejects(() => storage.appendSegment(seg(id, "i1-000001", 1)), InvalidIdError);
  }
  assert.equal(await storage.listSegments(), []);
}

async function segmentConcurrentAppends(h: Harness): Promise<void> {
  const { storage, other } = h;
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? storage : other).appendSegment(seg("0rec-c", `i${i % 2}-${String(i).padStart(6, "0")}`, i))));
  assert.is((await storage.loadSegments("0rec-c")).length, 20);
  assert.is((await other.listSegments()).length, 20);
}

async function segmentErasure(h: Harness): Promise<void> {
  const { storage, other } = h;
  const [f] = fixtureSet();
  await storage.save(f.summary, f.bytes);
  await storage.appendSegment(seg(f.summary.id, "i1-000001", 1));
  await storage.appendSegment(seg("0rec-only-segments", "i1-000001", 1));
  assert.is(await storage.delete(f.summary.id), true);
  assert.equal(await other.loadSegments(f.summary.id), []);
  assert.is(await storage.delete("0rec-only-segments"), true, "a recording that has only segments is deleted too");
  assert.equal(await other.listSegments(), []);
  await storage.appendSegment(seg("0rec-d", "i1-000001", 1));
  await storage.clear();
  assert.equal(await other.listSegments(), []);
}

async function claimRace(h: Harness): Promise<void> {
  const { storage, other } = h;
  for (let round = 0; round < 10; round++) {
    const id = `0claim-${round}`;
    const [a, b] = await Promise.all([storage.claim(id, "instance-a", 60_000), other.claim(id, "instance-b", 60_000)]);
    assert.ok(a !== b, `round ${round}: exactly one claim wins (a=${a}, b=${b})`);
    const [winner, loser, winnerName, loserName] = a ? [storage, other, "instance-a", "instance-b"] : [other, storage, "instance-b", "instance-a"];
    assert.is(await winner.claim(id, winnerName, 60_000), true, "the holder renews");
    assert.is(await loser.claim(id, loserName, 60_000), false, "still held");
    await loser.release(id, loserName); // not the holder: nothing happens
    assert.is(await loser.claim(id, loserName, 60_000), false, "a release by a non-holder frees nothing");
    await winner.release(id, winnerName);
    assert.is(await loser.claim(id, loserName, 60_000), true, "released: the other may take it");
  }
  assert.is(await storage.claim("0claim-expiry", "instance-a", 0), true);
  assert.is(await other.claim("0claim-expiry", "instance-b", 60_000), true, "an expired claim is taken over");
  assert.is(await storage.claim("0claim-expiry", "instance-a", 60_000), false);
}

async function sharedSecret(h: Harness): Promise<void> {
  const { storage, other } = h;
  if (!storage.sharedSecret || !other.sharedSecret) return; // optional: this backend has none
  const [a, b] = await Promise.all([storage.sharedSecret(), other.sharedSecret()]);
  assert.ok(typeof a === "string" && a.length >= 32, "a long random secret");
  assert.is(b, a, "two handles racing to make it agree");
  await storage.clear();
  assert.is(await other.sharedSecret(), a, "clear() keeps it: instances holding it keep their sessions");
}
