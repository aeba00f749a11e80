/**
 * Saves finalized recordings through the storage backend, retrying transient
 * failures with exponential backoff. A recording that still fails is kept in a
 * spill directory (when there is one) and delivered by a later attempt, so an
 * outage delays recordings instead of losing them.
 *
 * Spilled files are written to a temporary name, synced and renamed, the
 * summary last: a spilled recording is whole on disk before the journal lets
 * go of it, and `retryHeld` only ever sees whole ones. Several processes may
 * share a spill directory; saving the same recording twice is harmless.
 */

import { closeSync, fsyncSync, openSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomToken, type RecordingSummary } from "../format/mod.ts";
import { durableWrite, type RecordingStorage } from "../storage/mod.ts";
import type { Finalized } from "./drain.ts";
import { sleep } from "./runtime.ts";

export interface PersistOptions {
  persistenceRetryAttempts: number;
  persistenceRetryDelayMs: number;
  /** Where recordings wait out a storage outage. Without one, they are kept in memory. */
  spillDir?: string;
}

export class Persister {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly heldInMemory = new Map<string, Finalized>();
  private retrying?: Promise<number>;
  persisted = 0;
  failures = 0;
  /** Recordings that went to the spill directory. */
  spilled = 0;
  /** Spilled or held recordings delivered by retryHeld. */
  delivered = 0;

  constructor(
    private readonly storage: RecordingStorage,
    private readonly options: PersistOptions,
    private readonly onPersisted: (id: string) => void,
    private readonly warn: (message: string) => void,
  ) {}

  persist(recording: Finalized): void {
    const job = this.saveWithRetries(recording).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
  }

  /** Resolves when every save started so far has finished (or spilled). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Saves still being attempted, plus recordings held in memory: what only this process has. */
  get pending(): number {
    return this.inFlight.size + this.heldInMemory.size;
  }

  private async saveWithRetries(recording: Finalized): Promise<void> {
    const { persistenceRetryAttempts: attempts, persistenceRetryDelayMs: delay } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.storage.save(recording.summary, recording.bytes);
        this.persisted++;
        this.onPersisted(recording.summary.id);
        return;
      } catch (error) {
        this.failures++;
        if (attempt >= attempts) {
          this.warn(`saving recording ${recording.summary.id} failed ${attempt} times (${(error as Error).message}); keeping it for later`);
          await this.spill(recording);
          return;
        }
        await sleep(delay * 2 ** (attempt - 1));
      }
    }
  }

  private async spill(recording: Finalized): Promise<void> {
    const dir = this.options.spillDir;
    if (dir) {
      try {
        await mkdir(dir, { recursive: true });
        const id = recording.summary.id;
        await durableWrite(join(dir, `${id}.hrp`), recording.bytes);
        await durableWrite(join(dir, `${id}.json`), JSON.stringify(recording.summary));
        syncDir(dir);
        this.spilled++;
        // Spilled is safe on disk: the journal need not keep it.
        this.onPersisted(id);
        return;
      } catch (error) {
        this.warn(`cannot spill to ${dir}: ${(error as Error).message}`);
      }
    }
    this.heldInMemory.set(recording.summary.id, recording);
  }

  /**
   * Tries again everything that is waiting out an outage: held in memory, then
   * spilled. Stops at the first failure (the storage is still down); a call
   * while one runs joins it.
   */
  retryHeld(): Promise<number> {
    this.retrying ??= this.deliverHeld()
      .then((n) => ((this.delivered += n), n))
      .finally(() => (this.retrying = undefined));
    return this.retrying;
  }

  private async deliverHeld(): Promise<number> {
    let delivered = 0;
    for (const [id, recording] of this.heldInMemory) {
      try {
        await this.storage.save(recording.summary, recording.bytes);
      } catch {
        return delivered;
      }
      this.heldInMemory.delete(id);
      this.onPersisted(id);
      delivered++;
    }
    const dir = this.options.spillDir;
    if (!dir) return delivered;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const id = name.slice(0, -5);
      let summary: RecordingSummary;
      let bytes: Uint8Array;
      try {
        summary = JSON.parse(await readFile(join(dir, name), "utf8")) as RecordingSummary;
        bytes = await readFile(join(dir, `${id}.hrp`));
      } catch {
        continue; // delivered meanwhile by another process sharing the directory
      }
      try {
        await this.storage.save(summary, bytes);
      } catch {
        return delivered;
      }
      await rm(join(dir, name), { force: true });
      await rm(join(dir, `${id}.hrp`), { force: true });
      delivered++;
    }
    return delivered;
  }

  /** Recordings held in memory (no spill directory, or it failed). */
  get waiting(): number {
    return this.heldInMemory.size;
  }
}


/** Makes the renames themselves durable; where a directory cannot be opened, the files are synced already. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch { /* not supported here */ }
}
