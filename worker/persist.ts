/**
 * Saves finalized recordings through the storage backend, retrying transient
 * failures with exponential backoff. A recording that still fails is kept in a
 * spill directory (when there is one) and delivered by a later attempt, so an
 * outage delays recordings instead of losing them.
 */

import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RecordingSummary } from "../format/mod.ts";
import type { RecordingStorage } from "../storage/mod.ts";
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
  persisted = 0;
  failures = 0;

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
        await writeFile(join(dir, `${recording.summary.id}.hrp`), recording.bytes);
        await writeFile(join(dir, `${recording.summary.id}.json`), JSON.stringify(recording.summary));
        // Spilled is safe on disk: the journal need not keep it.
        this.onPersisted(recording.summary.id);
        return;
      } catch (error) {
        this.warn(`cannot spill to ${dir}: ${(error as Error).message}`);
      }
    }
    this.heldInMemory.set(recording.summary.id, recording);
  }

  /** Tries again everything that is waiting out an outage. */
  async retryHeld(): Promise<number> {
    let delivered = 0;
    for (const [id, recording] of this.heldInMemory) {
      try {
        await this.storage.save(recording.summary, recording.bytes);
        this.heldInMemory.delete(id);
        this.onPersisted(id);
        delivered++;
      } catch {
        return delivered;
      }
    }
    const dir = this.options.spillDir;
    if (!dir) return delivered;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const id = name.slice(0, -5);
      try {
        const summary = JSON.parse(await readFile(join(dir, name), "utf8")) as RecordingSummary;
        await this.storage.save(summary, await readFile(join(dir, `${id}.hrp`)));
        await rm(join(dir, `${id}.hrp`), { force: true });
        await rm(join(dir, name), { force: true });
        delivered++;
      } catch {
        return delivered;
      }
    }
    return delivered;
  }

  get waiting(): number {
    return this.heldInMemory.size;
  }
}
