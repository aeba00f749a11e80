/**
 * Conformance cases: save and load. What is saved loads back byte for byte and
 * lists with every field as saved, through either handle; saving an id again
 * replaces that recording.
 */

import { decodeRecordingFile } from "../../format/mod.ts";
import { fixtureRecording, fixtureSet, T0 } from "./fixtures.ts";
import { assert, type Harness, ids } from "./harness.ts";

export function saveLoadCases(h: Harness): void {
  const { test } = h;
  test("save, then load gives the same bytes and list gives the same summary", () => saveThenLoad(h));
  test("saving an id again replaces that recording", () => saveReplaces(h));
}

async function saveThenLoad(h: Harness): Promise<void> {
  const { storage, other } = h;
  const [a, b] = fixtureSet();
  await storage.save(a.summary, a.bytes);
  await storage.save(b.summary, b.bytes);
  assert.equal([...(await storage.load(a.summary.id))], [...a.bytes]);
  const loaded = decodeRecordingFile(a.summary.id, await storage.load(a.summary.id));
  assert.equal(loaded.events, a.events);
  const { items, nextCursor } = await storage.list();
  assert.is(nextCursor, undefined);
  assert.equal(items, [b.summary, a.summary], "newest first, every field as saved");
  // The other handle sees the same.
  assert.equal(ids((await other.list()).items), [b.summary.id, a.summary.id]);
}

async function saveReplaces(h: Harness): Promise<void> {
  const { storage } = h;
  const first = fixtureRecording({ id: "0abc-replace", startedAt: T0, events: 3 });
  const second = fixtureRecording({ id: "0abc-replace", startedAt: T0, events: 7, eventNames: ["again"], recovered: true });
  await storage.save(first.summary, first.bytes);
  await storage.save(second.summary, second.bytes);
  assert.equal((await storage.list()).items, [second.summary]);
  assert.equal(decodeRecordingFile("0abc-replace", await storage.load("0abc-replace")).events, second.events);
}
