/**
 * The browser's cache of finalized recordings' frames, in IndexedDB (through
 * idb-keyval's store): reopening a recording plays without fetching.
 *
 * Layout: frame i of a recording under `${cacheKey}:${i}` (shared.ts
 * `frameCacheKey`; the recording id is its second part), and under "recent"
 * the cache keys held, oldest first, as [cacheKey, frameCount] pairs.
 *
 * Invariants, and why:
 * - Every stored frame belongs to a cache key listed in "recent", and the list
 *   and the frames change in one transaction: saving (list, then frames) and
 *   purging (frames, then unlist) cannot interleave, so no frame is ever left
 *   that a purge cannot find. A cache key's frames are deleted as one key
 *   range, whatever their count.
 * - At most KEEP_RECORDINGS recordings are held; the oldest go first.
 * - What the server no longer has, or no longer shows this user, is purged on
 *   the next dashboard page (`reconcile`, routes/cached.ts): a deleted
 *   recording does not stay in the browser of whoever watched it.
 * - The cache only saves fetches. Without IndexedDB (private mode, quota) the
 *   player fetches everything; a failure is logged and never stops playback.
 */

import { createStore, getMany, promisifyRequest, type UseStore } from "idb-keyval";
import { type FrameData, recordingIdOfCacheKey } from "../shared.ts";

const KEEP_RECORDINGS = 30;
const RECENT = "recent";
type Recent = [cacheKey: string, frameCount: number][];

let idbStore: UseStore | undefined;
let unavailable = false;

/** The store, or undefined when this browser has no usable IndexedDB (said once in the console). */
export function cacheStore(): UseStore | undefined {
  if (idbStore || unavailable) return idbStore;
  try {
    if (typeof indexedDB === "undefined") throw new Error("no IndexedDB");
    idbStore = createStore("hono-replay-dashboard", "frames");
  } catch (error) {
    unavailable = true;
    console.warn("hono-replay dashboard: frames are not cached in this browser:", error);
  }
  return idbStore;
}

/** The cached frames among [from, to) of one cache key. */
export async function readFrames(store: UseStore, cacheKey: string, from: number, to: number): Promise<FrameData[]> {
  const keys = Array.from({ length: to - from }, (_, k) => `${cacheKey}:${from + k}`);
  return (await getMany<FrameData>(keys, store)).filter((f): f is FrameData => f !== undefined);
}

/** Stores frames of a finalized recording; lists its cache key first and drops the oldest recordings beyond KEEP_RECORDINGS. */
export function saveFrames(store: UseStore, cacheKey: string, frameCount: number, frames: FrameData[]): Promise<void> {
  return editRecent(store, (recent, objects) => {
    if (!recent.some(([k]) => k === cacheKey)) recent.push([cacheKey, frameCount]);
    for (const [k] of recent.splice(0, Math.max(0, recent.length - KEEP_RECORDINGS))) objects.delete(framesOf(k));
    for (const f of frames) objects.put(f, `${cacheKey}:${f.i}`);
    return recent;
  });
}

/** The recordings this browser holds frames of. */
async function cachedRecordingIds(store: UseStore): Promise<string[]> {
  const recent = asRecent(await store("readonly", (objects) => promisifyRequest(objects.get(RECENT))));
  return [...new Set(recent.map(([k]) => recordingIdOfCacheKey(k)))];
}

/** Deletes every cached frame of these recordings (under any of their cache keys). */
function purgeRecordings(store: UseStore, ids: string[]): Promise<void> {
  const doomed = new Set(ids);
  return editRecent(store, (recent, objects) => {
    const kept: Recent = [];
    for (const entry of recent) {
      if (doomed.has(recordingIdOfCacheKey(entry[0]))) objects.delete(framesOf(entry[0]));
      else kept.push(entry);
    }
    return kept;
  });
}

/**
 * Asks the dashboard (`GET <url>?ids=…`) which cached recordings this browser
 * may keep, and purges the others. Resolves to the ids purged; rejects when the
 * dashboard could not answer (the cache is kept until it can).
 */
export async function reconcile(url: string): Promise<string[]> {
  const store = cacheStore();
  if (!store) return [];
  const ids = await cachedRecordingIds(store);
  if (ids.length === 0) return [];
  const res = await fetch(`${url}?ids=${encodeURIComponent(ids.join(","))}`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`the dashboard did not say which cached recordings may be kept (HTTP ${res.status})`);
  const { keep } = (await res.json()) as { keep: string[] };
  const gone = ids.filter((id) => !keep.includes(id));
  if (gone.length) await purgeRecordings(store, gone);
  return gone;
}

/** Every frame key of one cache key: `${cacheKey}:` followed by anything (";" is the character after ":"). */
function framesOf(cacheKey: string): IDBKeyRange {
  return IDBKeyRange.bound(`${cacheKey}:`, `${cacheKey};`, false, true);
}

/** Reads "recent", lets `edit` change it and the frames, and writes it back: all in one transaction. */
function editRecent(store: UseStore, edit: (recent: Recent, objects: IDBObjectStore) => Recent): Promise<void> {
  return store("readwrite", (objects) =>
    new Promise<void>((resolve, reject) => {
      const read = objects.get(RECENT);
      read.onerror = () => reject(read.error);
      read.onsuccess = () => {
        try {
          objects.put(edit(asRecent(read.result), objects), RECENT);
        } catch (error) {
          objects.transaction.abort();
          return reject(error);
        }
        resolve(promisifyRequest(objects.transaction));
      };
    }));
}

/** "recent" as stored, or empty when absent or not what this version wrote. */
function asRecent(value: unknown): Recent {
  return Array.isArray(value) ? value.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === "string") : [];
}
