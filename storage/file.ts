/**
 * The default storage: one compressed file per recording and an index of
 * summaries, so listing never opens a recording.
 *
 *   <path>/index.json          { "<id>": summary, … }
 *   <path>/recordings/<id>.hrp
 *
 * Every write goes to a temporary file that is renamed into place, so a reader
 * (another thread, another process, a crash) sees the old file or the new one,
 * never half of one. Index updates take a directory lock, because the worker
 * saves while the request thread may delete.
 */

import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import {
  assertValidId,
  decodeRecordingFile,
  randomToken,
  RecordingNotFoundError,
  type RecordingSummary,
} from "../format/mod.ts";
import { idsToClean, pageSummaries } from "./filter.ts";
import type { CleanupPolicy, RecordingStorage, SummaryFilter, SummaryPage } from "./types.ts";

export interface FileStorageOptions {
  /** Directory for recordings. Default "replay_recordings" (relative to the working directory). */
  path?: string;
}

type Index = Record<string, RecordingSummary>;

export function fileStorage(options: FileStorageOptions = {}): RecordingStorage & { readonly path: string } {
  const root = resolve(options.path ?? "replay_recordings");
  const dir = join(root, "recordings");
  const indexPath = join(root, "index.json");
  const lockPath = join(root, ".lock");
  let cache: { mtimeMs: number; size: number; index: Index } | undefined;

  const fileOf = (id: string) => join(dir, `${assertValidId(id)}.hrp`);

  async function ensureDirs() {
    await mkdir(dir, { recursive: true });
  }

  /**
   * The index, from cache when index.json has not changed. A missing or
   * unreadable index is rebuilt from the recordings; `locked` says the caller
   * already holds the lock (the rebuild must not take it again).
   */
  async function readIndex(locked = false): Promise<Index> {
    let info;
    try {
      info = await stat(indexPath);
    } catch {
      return rebuild(locked, false);
    }
    if (cache && cache.mtimeMs === info.mtimeMs && cache.size === info.size) return cache.index;
    try {
      const index = JSON.parse(await readFile(indexPath, "utf8")) as Index;
      if (!index || typeof index !== "object" || Array.isArray(index)) throw new Error("not an object");
      cache = { mtimeMs: info.mtimeMs, size: info.size, index };
      return index;
    } catch (error) {
      console.warn(`hono-replay: ${indexPath} is unreadable (${(error as Error).message}); rebuilding it from the recordings`);
      return rebuild(locked, true);
    }
  }

  async function rebuild(locked: boolean, indexExists: boolean): Promise<Index> {
    if (!indexExists) {
      const names = await readdir(dir).catch(() => [] as string[]);
      if (!names.some((n) => n.endsWith(".hrp"))) return {};
    }
    const work = async () => {
      const index = await scanRecordings();
      await writeIndex(index);
      return index;
    };
    return locked ? work() : withLock(work);
  }

  /** Reads every recording's metadata: only when the index is lost. Corrupt files are left out, loudly. */
  async function scanRecordings(): Promise<Index> {
    const index: Index = {};
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch { /* no recordings yet */ }
    for (const name of names) {
      if (!name.endsWith(".hrp")) continue;
      const id = name.slice(0, -4);
      try {
        const { events: _events, ...summary } = decodeRecordingFile(id, await readFile(join(dir, name)));
        index[id] = summary;
      } catch (error) {
        console.warn(`hono-replay: left out of the index: ${(error as Error).message}`);
      }
    }
    return index;
  }

  async function writeIndex(index: Index) {
    await durableWrite(indexPath, JSON.stringify(index));
    // What was just written is the index: the next update or listing need not read
    // and parse it again (it would, if another thread or process changed the file).
    const info = await stat(indexPath).catch(() => undefined);
    cache = info && { mtimeMs: info.mtimeMs, size: info.size, index };
  }

  async function withLock<T>(work: () => Promise<T>): Promise<T> {
    await mkdir(root, { recursive: true });
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(lockPath);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        // A holder that died leaves the lock behind; no update takes 10 s.
        const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > 10_000) await rmdir(lockPath).catch(() => {});
        if (Date.now() - started > 30_000) throw new Error(`hono-replay: could not lock ${lockPath}`);
        await new Promise((r) => setTimeout(r, Math.min(2 + attempt, 25)));
      }
    }
    try {
      return await work();
    } finally {
      await rmdir(lockPath).catch(() => {});
    }
  }

  /**
   * Index changes are group-committed: while one write of the index is under way,
   * the changes that arrive queue up and go out together in the next, so fifty
   * recordings finalized at once cost two index writes, not fifty locked ones.
   */
  type Change = { change: (index: Index) => void; done: () => void; failed: (error: unknown) => void };
  let queued: Change[] = [];
  let committing: Promise<void> | undefined;

  function updateIndex(change: (index: Index) => void): Promise<void> {
    return new Promise((done, failed) => {
      queued.push({ change, done, failed });
      committing ??= commitQueued().finally(() => (committing = undefined));
    });
  }

  async function commitQueued() {
    while (queued.length) {
      const batch = queued;
      queued = [];
      try {
        await withLock(async () => {
          const index = { ...(await readIndex(true)) };
          for (const { change } of batch) change(index);
          await writeIndex(index);
        });
        for (const { done } of batch) done();
      } catch (error) {
        for (const { failed } of batch) failed(error);
      }
    }
  }

  return {
    name: "file",
    path: root,
    spec: { module: import.meta.url, export: "fileStorage", options: { path: root } },

    async save(summary, bytes) {
      const target = fileOf(summary.id);
      await ensureDirs();
      await durableWrite(target, bytes);
      await updateIndex((index) => {
        index[summary.id] = summary;
      });
    },

    async load(id) {
      try {
        return await readFile(fileOf(id));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new RecordingNotFoundError(id);
        throw error;
      }
    },

    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      return pageSummaries(Object.values(await readIndex()), filter);
    },

    async delete(id) {
      const file = fileOf(id);
      let existed = false;
      await updateIndex((index) => {
        existed = id in index;
        delete index[id];
      });
      const removed = await rm(file).then(() => true, () => false);
      return existed || removed;
    },

    async clear() {
      await withLock(async () => {
        await rm(dir, { recursive: true, force: true });
        await writeIndex({});
      });
    },

    async cleanup(policy: CleanupPolicy) {
      let doomed: string[] = [];
      await updateIndex((index) => {
        doomed = idsToClean(Object.values(index), policy);
        for (const id of doomed) delete index[id];
      });
      await Promise.all(doomed.map((id) => rm(fileOf(id), { force: true })));
      return doomed;
    },
  };
}

/**
 * Writes a file so that a reader (or a crash) sees the old content or the new,
 * never part of it: a synced temporary file renamed into place.
 */
export async function durableWrite(target: string, data: string | Uint8Array): Promise<void> {
  if (!isAbsolute(target)) throw new Error("durableWrite needs an absolute path");
  const temp = `${target}.tmp-${randomToken(8)}`;
  try {
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

