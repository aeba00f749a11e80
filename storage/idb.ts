/**
 * IndexedDB storage through idb-keyval, for runtimes that have IndexedDB
 * (browsers, service workers; Node and Deno with fake-indexeddb). Five
 * databases (idb-keyval keeps one object store per database), so that listing
 * reads summaries only:
 *
 *   <name>           object store "summaries": id → summary
 *   <name>-data      object store "data":      id → recording bytes
 *   <name>-segments  object store "segments":  "<id>/<key>" → segment
 *   <name>-claims    object store "claims":    id → { owner, until }
 *   <name>-erasures  object store "erasures":  erasure id → erasure mark (kept by clear())
 *
 * A save writes the data before the summary and a delete removes the summary
 * first, so whatever is listed can be loaded. Cleanup reads and deletes the
 * doomed summaries in one readwrite transaction: IndexedDB runs those one at a
 * time, so tabs that clean up at once delete each recording once. It has no
 * `spec`: the drain loop runs in the thread that opened it.
 *
 * Segment keys are "<recording id>/<segment key>": ids have no "/", so one
 * recording's segments are exactly the key range ["<id>/", "<id>/\uffff"].
 * Listing segments reads their text too (a browser holds few); a claim is read
 * and written in one readwrite transaction, which IndexedDB serializes with
 * every other on the store, so of two tabs (or two handles) racing, the second
 * sees the first's claim: atomic without a check-then-set gap.
 *
 * Each concern (recordings, segments, claims, erasure marks) is a function
 * returning its methods over the lazily opened stores, spread into a plain
 * object so that a copy of the storage (`{ ...storage }`) keeps every method.
 */

import { clear, createStore, del, delMany, get, promisifyRequest, set, type UseStore, values } from "idb-keyval";
import { assertValidId, isValidId, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { checkErasure, idsToClean, pageSummaries, unexpired } from "./filter.ts";
import type { CleanupPolicy, Erasure, RecordingStorage, Segment, SegmentInfo, SummaryFilter, SummaryPage } from "./types.ts";

export interface IdbStorageOptions {
  /** Database name; the data goes to `<name>-data`. Default "hono-replay". */
  name?: string;
}

/** The five object stores, one per database (idb-keyval keeps one per database). */
interface Stores {
  summaries: UseStore;
  data: UseStore;
  segments: UseStore;
  claims: UseStore;
  erasures: UseStore;
}

export function idbStorage(options: IdbStorageOptions = {}): RecordingStorage {
  const name = options.name ?? "hono-replay";
  let stores: Stores | undefined;
  // Opened on first use: importing this module must not touch indexedDB.
  const open = () => (stores ??= {
    summaries: createStore(name, "summaries"),
    data: createStore(`${name}-data`, "data"),
    segments: createStore(`${name}-segments`, "segments"),
    claims: createStore(`${name}-claims`, "claims"),
    erasures: createStore(`${name}-erasures`, "erasures"),
  });
  return { name: "idb", ...recordingMethods(open), ...segmentMethods(open), ...claimMethods(open), ...erasureMethods(open) };
}

function recordingMethods(open: () => Stores): Pick<RecordingStorage, "save" | "load" | "list" | "delete" | "clear" | "cleanup"> {
  return {
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
      const { summaries, data, segments, claims } = open();
      const listed = await deleteKey(summaries, id);
      const stored = await deleteKey(data, id);
      const active = await deleteSegmentsOf(segments, id);
      await del(id, claims);
      return listed || stored || active;
    },

    async clear() {
      const { summaries, data, segments, claims } = open();
      await clear(summaries);
      await clear(data);
      await clear(segments);
      await clear(claims);
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

function segmentMethods(open: () => Stores): Pick<RecordingStorage, "appendSegment" | "loadSegments" | "listSegments" | "deleteSegments"> {
  return {
    async appendSegment(segment) {
      const id = assertValidId(segment.recordingId);
      // The file storage's rule (keys name files there), so that a key valid for one backend is for all.
      if (!isValidId(segment.key)) {
        throw new TypeError(`invalid segment key ${JSON.stringify(String(segment.key)).slice(0, 120)}: keys are 1-100 characters of A-Z a-z 0-9 _ - ("<instance id>-<counter>")`);
      }
      const { recordingId, key, lastAt, text } = segment;
      await set(`${id}/${key}`, { recordingId, key, lastAt, text } satisfies Segment, open().segments);
    },

    async loadSegments(recordingId) {
      const id = assertValidId(recordingId);
      return open().segments("readonly", (store) => promisifyRequest(store.getAll(segmentRange(id)) as IDBRequest<Segment[]>));
    },

    async listSegments() {
      const all = await values<Segment>(open().segments);
      return all.map(({ recordingId, key, lastAt }): SegmentInfo => ({ recordingId, key, lastAt }));
    },

    async deleteSegments(recordingId, keys) {
      const id = assertValidId(recordingId);
      if (keys.length) await delMany(keys.map((key) => `${id}/${key}`), open().segments);
    },
  };
}

function claimMethods(open: () => Stores): Pick<RecordingStorage, "claim" | "release"> {
  return {
    async claim(recordingId, owner, ttlMs) {
      const id = assertValidId(recordingId);
      return open().claims("readwrite", (store) => {
        let won = false;
        store.get(id).onsuccess = function () {
          const held = this.result as Claim | undefined;
          const now = Date.now();
          won = !held || held.owner === owner || !(held.until > now);
          if (won) store.put({ owner, until: now + ttlMs } satisfies Claim, id);
        };
        return promisifyRequest(store.transaction).then(() => won);
      });
    },

    async release(recordingId, owner) {
      const id = assertValidId(recordingId);
      await open().claims("readwrite", (store) => {
        store.get(id).onsuccess = function () {
          if ((this.result as Claim | undefined)?.owner === owner) store.delete(id);
        };
        return promisifyRequest(store.transaction);
      });
    },
  };
}

function erasureMethods(open: () => Stores): Pick<RecordingStorage, "addErasure" | "listErasures"> {
  return {
    async addErasure(erasure) {
      const mark = structuredClone(checkErasure(erasure));
      await open().erasures("readwrite", (store) => {
        // Only where none is (the same id again changes nothing); expired marks go.
        store.getKey(mark.id).onsuccess = function () {
          if (this.result === undefined) store.put(mark, mark.id);
        };
        store.getAll().onsuccess = function () {
          for (const old of this.result as Erasure[]) if (old.until <= Date.now()) store.delete(old.id);
        };
        return promisifyRequest(store.transaction);
      });
    },

    async listErasures() {
      return unexpired(await values<Erasure>(open().erasures));
    },
  };
}

/** Deletes every segment of a recording in one transaction; true when it had any. */
function deleteSegmentsOf(segments: UseStore, id: string): Promise<boolean> {
  return segments("readwrite", (store) => {
    let found = false;
    store.count(segmentRange(id)).onsuccess = function () {
      found = this.result > 0;
      if (found) store.delete(segmentRange(id));
    };
    return promisifyRequest(store.transaction).then(() => found);
  });
}

interface Claim {
  owner: string;
  until: number;
}

/** The keys of one recording's segments: "<id>/" up to "<id>/" and the highest code unit. */
function segmentRange(id: string): IDBKeyRange {
  return IDBKeyRange.bound(`${id}/`, `${id}/\uffff`);
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
