/**
 * The file storage's index of summaries (file.ts), so listing never opens a
 * recording:
 *
 *   <path>/index.json     { "<id>": summary, … }          the index as of its last fold
 *   <path>/index.log      [id, summary | null]\n …        what changed since, one line a change
 *   <path>/.lock          a directory: held while the index changes
 *
 * Invariants, and why:
 * - Index updates take a directory lock (mkdir is atomic), because the worker
 *   saves while the request thread may delete, and several processes may
 *   share the directory. A holder that died leaves the lock behind; no update
 *   takes 10 s, so an older lock is removed.
 * - A commit appends its changes to index.log (one write, one fdatasync) instead
 *   of rewriting the whole index: with 3,000 recordings listed, rewriting and
 *   syncing index.json for every finalized recording cost the persistence
 *   worker 24 µs per recorded request (bench, request overhead), and grew with
 *   the store. The log is folded into index.json (written aside, synced,
 *   renamed in; then the log removed) once it outgrows the snapshot, so a
 *   commit costs the same however many recordings there are.
 * - A commit that removes a recording folds at once: a deleted recording's
 *   summary must not outlive it in any file.
 * - Each line sets one id's summary, so replaying the log over a snapshot that
 *   already holds part of it changes nothing: a fold interrupted between the
 *   rename and the removal of the log loses nothing.
 * - Readers (other threads, other processes) take no lock: they read only the
 *   log's complete lines, and only the bytes appended since their last read;
 *   a changed index.json (a fold) means reading both again. What this handle
 *   last read or wrote is cached, so an unchanged index is not parsed again.
 * - A missing or unreadable index is rebuilt from the recordings (reading each
 *   one's metadata); a recording file that cannot be decoded is left out,
 *   loudly, and `listCorrupt` (file_corrupt.ts) lists it from then on.
 * - Changes are group-committed: while one commit is under way, the changes
 *   that arrive queue up and go out together in the next.
 */

import { Buffer } from "node:buffer";
import { mkdir, open, readdir, readFile, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { decodeRecordingFile, type RecordingSummary } from "../format/mod.ts";
import { durableWrite, errnoOf, FILE_MODE, type FileContext } from "./file_io.ts";

export type Index = Record<string, RecordingSummary>;

type Change = { change: (index: Index) => void; done: () => void; failed: (error: unknown) => void };

/** The log is folded into index.json once it is larger than this and than index.json. */
const LOG_FOLD_MIN_BYTES = 64 * 1024;

/** What a handle last read: index.json by mtime and size, and how far into index.log (complete lines). */
interface Cached {
  snapshot: { mtimeMs: number; size: number };
  log: { ino: number; offset: number };
  index: Index;
}

export class FileIndex {
  private readonly path: string;
  private readonly logPath: string;
  private readonly lockPath: string;
  private cache: Cached | undefined;
  private queued: Change[] = [];
  private committing: Promise<void> | undefined;

  constructor(private readonly ctx: FileContext) {
    this.path = join(ctx.root, "index.json");
    this.logPath = join(ctx.root, "index.log");
    this.lockPath = join(ctx.root, ".lock");
  }

  /**
   * The index, from cache when index.json has not changed (plus what the log
   * gained since). A missing or unreadable index is rebuilt from the
   * recordings; `locked` says the caller already holds the lock (the rebuild
   * must not take it again).
   */
  async read(locked = false): Promise<Index> {
    let info;
    try {
      info = await stat(this.path);
    } catch {
      return this.rebuild(locked, false);
    }
    try {
      const cache = this.cache;
      if (cache && cache.snapshot.mtimeMs === info.mtimeMs && cache.snapshot.size === info.size && await this.catchUp(cache)) return cache.index;
      const index = JSON.parse(await readFile(this.path, "utf8")) as Index;
      if (!index || typeof index !== "object" || Array.isArray(index)) throw new Error("not an object");
      const fresh: Cached = { snapshot: { mtimeMs: info.mtimeMs, size: info.size }, log: { ino: -1, offset: 0 }, index };
      if (!await this.catchUp(fresh)) throw new Error("index.log changed while it was read");
      this.cache = fresh;
      return index;
    } catch (error) {
      this.cache = undefined;
      this.ctx.logger.warn(`${this.path} is unreadable (${(error as Error).message}); rebuilding it from the recordings`);
      return this.rebuild(locked, true);
    }
  }

  /**
   * Applies the log's complete lines appended since `cached.log.offset`; false
   * when the log is not the one read before (a fold replaced it: read both again).
   */
  private async catchUp(cached: Cached): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.logPath, "r");
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") throw error;
      return cached.log.offset === 0;
    }
    try {
      const info = await handle.stat();
      if (cached.log.offset > 0 && (info.ino !== cached.log.ino || info.size < cached.log.offset)) return false;
      cached.log.ino = info.ino;
      if (info.size === cached.log.offset) return true;
      const bytes = Buffer.alloc(info.size - cached.log.offset);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, cached.log.offset);
      // A writer may be mid-append: only whole lines count.
      const complete = bytes.lastIndexOf(10, bytesRead - 1) + 1;
      for (const line of bytes.subarray(0, complete).toString("utf8").split("\n")) {
        if (!line) continue;
        const [id, summary] = JSON.parse(line) as [string, RecordingSummary | null];
        if (summary) cached.index[id] = summary;
        else delete cached.index[id];
      }
      cached.log.offset += complete;
      return true;
    } finally {
      await handle.close();
    }
  }

  /** Replaces index.json with `index` and removes the log it now holds (the caller holds the lock). */
  async write(index: Index): Promise<void> {
    await durableWrite(this.path, JSON.stringify(index));
    await rm(this.logPath, { force: true });
    // What was just written is the index: the next update or listing need not read
    // and parse it again (it would, if another thread or process changed the file).
    const info = await stat(this.path).catch(() => undefined);
    this.cache = info && { snapshot: { mtimeMs: info.mtimeMs, size: info.size }, log: { ino: -1, offset: 0 }, index };
  }

  /** Appends `changes` to the log, synced (the caller holds the lock and has read the index: the cache is current). */
  private async append(changes: Map<string, RecordingSummary | null>): Promise<void> {
    let lines = "";
    for (const [id, summary] of changes) lines += JSON.stringify([id, summary]) + "\n";
    const handle = await open(this.logPath, "a", FILE_MODE);
    try {
      await handle.write(lines);
      await handle.datasync();
      const info = await handle.stat();
      if (this.cache) this.cache.log = { ino: info.ino, offset: info.size };
    } finally {
      await handle.close();
    }
  }

  /** Applies `change` to the index, in the next group commit. */
  update(change: (index: Index) => void): Promise<void> {
    return new Promise((done, failed) => {
      this.queued.push({ change, done, failed });
      this.committing ??= this.commitQueued().finally(() => (this.committing = undefined));
    });
  }

  /** Runs `work` holding the directory lock. */
  async withLock<T>(work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        // Into the storage directory: made again if it was removed (by hand).
        await this.ctx.dirs.into(this.ctx.root, () => mkdir(this.lockPath));
        break;
      } catch (error) {
        if (errnoOf(error) !== "EEXIST") throw error;
        // A holder that died leaves the lock behind; no update takes 10 s.
        const age = await stat(this.lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > 10_000) await rmdir(this.lockPath).catch(() => {});
        if (Date.now() - started > 30_000) throw new Error(`hono-replay: could not lock ${this.lockPath}`);
        await new Promise((r) => setTimeout(r, Math.min(2 + attempt, 25)));
      }
    }
    try {
      return await work();
    } finally {
      await rmdir(this.lockPath).catch(() => {});
    }
  }

  private async commitQueued(): Promise<void> {
    while (this.queued.length) {
      const batch = this.queued;
      this.queued = [];
      try {
        await this.withLock(() => this.commit(batch));
        for (const { done } of batch) done();
      } catch (error) {
        for (const { failed } of batch) failed(error);
      }
    }
  }

  /** Applies a batch to the cached index, noting what changed, then logs it or folds (the caller holds the lock). */
  private async commit(batch: Change[]): Promise<void> {
    const index = await this.read(true);
    const changes = new Map<string, RecordingSummary | null>();
    let removed = false;
    const noted = new Proxy(index, {
      set(target, id: string, summary: RecordingSummary) {
        target[id] = summary;
        changes.set(id, summary);
        return true;
      },
      deleteProperty(target, id: string) {
        if (!(id in target)) return true;
        delete target[id];
        changes.set(id, null);
        removed = true;
        return true;
      },
    });
    try {
      for (const { change } of batch) change(noted);
      if (changes.size === 0) return;
      // No cache: there was no index.json yet (an empty store), so this commit writes it.
      const cache = this.cache;
      const outgrown = !cache || cache.log.offset > Math.max(LOG_FOLD_MIN_BYTES, cache.snapshot.size);
      if (removed || outgrown) await this.write(index);
      else await this.append(changes);
    } catch (error) {
      // The cached index was changed in place: the next read starts from the files.
      this.cache = undefined;
      throw error;
    }
  }

  private async rebuild(locked: boolean, indexExists: boolean): Promise<Index> {
    if (!indexExists) {
      const names = await readdir(this.ctx.recordings).catch(() => [] as string[]);
      if (!names.some((n) => n.endsWith(".hrp"))) return {};
    }
    const work = async () => {
      const index = await this.scanRecordings();
      await this.write(index);
      return index;
    };
    return locked ? work() : this.withLock(work);
  }

  /** Reads every recording's metadata: only when the index is lost. Corrupt files are left out, loudly. */
  private async scanRecordings(): Promise<Index> {
    const dir = this.ctx.recordings;
    const index: Index = {};
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch (error) {
      // None yet is the common case; anything else leaves the rebuilt index empty, so say so.
      if (errnoOf(error) !== "ENOENT") {
        this.ctx.logger.warn(`could not list ${dir} (${(error as Error).message}); the rebuilt index lists no recordings`);
      }
    }
    for (const name of names) {
      if (!name.endsWith(".hrp")) continue;
      const id = name.slice(0, -4);
      try {
        const { events: _events, ...summary } = decodeRecordingFile(id, await readFile(join(dir, name)));
        index[id] = summary;
      } catch (error) {
        this.ctx.logger.warn(`left out of the index: ${(error as Error).message}`);
      }
    }
    return index;
  }
}
