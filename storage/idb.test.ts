/**
 * idbStorage through idb-keyval on fake-indexeddb (an IndexedDB in memory,
 * as a browser would have): the conformance suite with a second idbStorage on
 * the same database as the other tab, then that listing reads only the
 * summaries database and corrupt data is a clear error.
 */

import "fake-indexeddb/auto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createStore, get, set } from "idb-keyval";
import { idbStorage } from "./idb.ts";
import { damaged, fixtureRecording, storageConformance } from "./conformance.ts";
import { runWithUvu } from "../tests/support/conformance_uvu.ts";

runWithUvu(storageConformance({
  name: "idb",
  open: () => idbStorage({ name: "conformance" }),
  openAnother: () => idbStorage({ name: "conformance" }),
  async corrupt(_storage, id, bytes) {
    await set(id, damaged(bytes), createStore("conformance-data", "data"));
  },
}));

test("summaries and data live in separate databases, so listing reads no recording data", async () => {
  const storage = idbStorage({ name: "separate" });
  const f = fixtureRecording({ id: "0idb-1", startedAt: Date.UTC(2026, 0, 1), events: 500, noise: 50 });
  await storage.save(f.summary, f.bytes);
  const summaries = createStore("separate", "summaries");
  const data = createStore("separate-data", "data");
  assert.equal(await get("0idb-1", summaries), f.summary);
  assert.equal([...(await get<Uint8Array>("0idb-1", data))!], [...f.bytes]);
  assert.is(storage.spec, undefined, "runs in the thread that opened it");
  // With the data gone, the summary still lists: list() never touches the data database.
  await set("0idb-1", undefined, data);
  assert.equal((await storage.list()).items, [f.summary]);
  assert.is(await storage.delete("0idb-1"), true);
  assert.equal((await storage.list()).items, []);
});

test.run();
