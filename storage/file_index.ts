/**
 * The file storage's index of summaries (file.ts), so listing never opens a
 * recording:
 *
 *   <path>/index.json     { "<id>": summary, … }
 *   <path>/.lock          a directory: held while the index is rewritten
 *
 * Invariants, and why:
 * - Index updates take a directory lock (mkdir is atomic), because the worker
 *   saves while the request thread may delete, and several processes may
 *   share the directory. A holder that died leaves the lock behind; no update
 *   takes 10 s, so an older lock is removed.
 * - index.json is written with `durableWrite` (file_io.ts): readers see the old
 *   index or the new one. What this handle last read or wrote is cached by the
 *   file's mtime and size, so an unchanged index is not parsed again.
 * - A missing or unreadable index is rebuilt from the recordings (reading each
 *   one's metadata); a recording file that cannot be decoded is left out,
 *   loudly, and `listCorrupt` (file_corrupt.ts) lists it from then on.
 * - Changes are group-committed: while one write of the index is under way,
 *   the changes that arrive queue up and go out together in the next, so fifty
 *   recordings finalized at once cost two index writes, not fifty locked ones.
 */

import { mkdir, readdir, readFile, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { decodeRecordingFile, type RecordingSummary } from "../format/mod.ts";
import { DIR_MODE, durableWrite, errnoOf, type FileContext } from "./file_io.ts";

export type Index = Record<string, RecordingSummary>;

type Change = { change: (index: Index) => void; done: () => void; failed: (error: unknown) => void };

export class FileIndex {
  private readonly path: string;
  private readonly lockPath: string;
  private cache: { mtimeMs: number; size: number; index: Index } | undefined;
  private queued: Change[] = [];
  private committing: Promise<void> | undefined;

  constructor(private readonly ctx: FileContext) {
    this.path = join(ctx.root, "index.json");
    this.lockPath = join(ctx.root, ".lock");
  }

  /**
   * The index, from cache when index.json has not changed. A missing or
   * unreadable index is rebuilt from the recordings; `locked` says the caller
   * already holds the lock (the rebuild must not take it again).
   */
  async read(locked = false): Promise<Index> {
    let info;
    try {
      info = await stat(this.path);
    } catch {
      return this.rebuild(locked, false);
    }
    if (this.cache && this.cache.mtimeMs === info.mtimeMs && this.cache.size === info.size) return this.cache.index;
    try {
      const index = JSON.parse(await readFile(this.path, "utf8")) as Index;
      if (!index || typeof index !== "object" || Array.isArray(index)) throw new Error("not an object");
      this.cache = { mtimeMs: info.mtimeMs, size: info.size, index };
      return index;
    } catch (error) {
      this.ctx.logger.warn(`${this.path} is unreadable (${(error as Error).message}); rebuilding it from the recordings`);
      return this.rebuild(locked, true);
    }
  }

  /** Replaces index.json (the caller holds the lock). */
  async write(index: Index): Promise<void> {
    await durableWrite(this.path, JSON.stringify(index));
    // What was just written is the index: the next update or listing need not read
    // and parse it again (it would, if another thread or process changed the file).
    const info = await stat(this.path).catch(() => undefined);
    this.cache = info && { mtimeMs: info.mtimeMs, size: info.size, index };
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
    await mkdir(this.ctx.root, { recursive: true, mode: DIR_MODE });
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(this.lockPath);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
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
        await this.withLock(async () => {
          const index = { ...(await this.read(true)) };
          for (const { change } of batch) change(index);
          await this.write(index);
        });
        for (const { done } of batch) done();
      } catch (error) {
        for (const { failed } of batch) failed(error);
      }
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
