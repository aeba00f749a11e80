/**
 * IndexedDB storage through idb-keyval, for runtimes that have IndexedDB
 * (browsers, service workers; Node and Deno with fake-indexeddb). Two
 * databases, so that listing reads summaries only:
 *
 *   <name>       object store "summaries": id → summary
 *   <name>-data  object store "data":      id → recording bytes
 *
 * A save writes the data before the summary and a delete removes the summary
 * first, so whatever is listed can be loaded. Cleanup reads and deletes the
 * doomed summaries in one readwrite transaction: IndexedDB runs those one at a
 * time, so tabs that clean up at once delete each recording once. It has no
 * `spec`: the drain loop runs in the thread that opened it.
 */

import { clear, createStore, del, get, promisifyRequest, set, type UseStore, values } from "idb-keyval";
import { assertValidId, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { idsToClean, pageSummaries } from "./filter.ts";
import type { CleanupPolicy, RecordingStorage, SummaryFilter, SummaryPage } from "./types.ts";

export interface IdbStorageOptions {
  /** Database name; the data goes to `<name>-data`. Default "hono-replay". */
  name?: string;
}

export function idbStorage(options: IdbStorageOptions = {}): RecordingStorage {
  const name = options.name ?? "hono-replay";
  let stores: { summaries: UseStore; data: UseStore } | undefined;
  // Opened on first use: importing this module must not touch indexedDB.
  const open = () => (stores ??= { summaries: createStore(name, "summaries"), data: createStore(`${name}-data`, "data") });

  return {
    name: "idb",

    async save(summary, bytes) {
      const id = assertValidId(summary.id);
      const { summaries, data } = open();
      await set(id, bytes.slice(), data);
      await set(id, { ...summary, eventNames: [...summary.eventNames] }, summaries);
    },

    async load(id) {
      assertValidId(id);
      const bytes = await get<Uint8Array>(id, open().data);
      if (bytes === undefined) throw new RecordingNotFoundError(id);
      return bytes;
    },

    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      return pageSummaries(await values<RecordingSummary>(open().summaries), filter);
    },

    async delete(id) {
      assertValidId(id);
      const { summaries, data } = open();
      const listed = await deleteKey(summaries, id);
      return (await deleteKey(data, id)) || listed;
    },

    async clear() {
      const { summaries, data } = open();
      await clear(summaries);
      await clear(data);
    },

    async cleanup(policy: CleanupPolicy) {
      const { summaries, data } = open();
      const doomed = await summaries("readwrite", (store) => {
        let ids: string[] = [];
        store.getAll().onsuccess = function () {
          ids = idsToClean(this.result as RecordingSummary[], policy);
          for (const id of ids) store.delete(id);
        };
        return promisifyRequest(store.transaction).then(() => ids);
      });
      await Promise.all(doomed.map((id) => del(id, data)));
      return doomed;
    },
  };
}

/** Deletes one key in one transaction; true when it was there. */
function deleteKey(use: UseStore, key: string): Promise<boolean> {
  return use("readwrite", (store) => {
    let found = false;
    store.getKey(key).onsuccess = function () {
      found = this.result !== undefined;
      if (found) store.delete(key);
    };
    return promisifyRequest(store.transaction).then(() => found);
  });
}
