/**
 * The drain loop: ring → journal → active recordings → persister, plus cleanup.
 * The same engine runs inside the persistence worker or, where there is no
 * worker (or the storage cannot be opened in one), in the request thread.
 */

import { readdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import type { RecordingSummary } from "../format/mod.ts";
import type { RecordingStorage } from "../storage/mod.ts";
import { Drainer, type Finalized } from "./drain.ts";
import { Journal } from "./journal.ts";
import { Persister } from "./persist.ts";
import { RingReader } from "./ring.ts";
import { backgroundTimer, processAlive, sleep, yieldToEventLoop } from "./runtime.ts";

export interface EngineOptions {
  /** Safety net for recordings whose end frame never came; the recorder ends them first. */
  idleTimeoutMs: number;
  persistenceRetryAttempts: number;
  persistenceRetryDelayMs: number;
  maxRecordings: number;
  maxRecordingAgeMs: number;
  cleanupIntervalMs: number;
  /** Directory for journals and spilled recordings; undefined runs without a journal. */
  journalDir?: string;
  /** This instance's journal file name inside journalDir. */
  journalName: string;
}

export type EngineRequest =
  | { type: "getActive"; id: string }
  | { type: "listActive" }
  | { type: "flush" }
  | { type: "cleanup" }
  | { type: "stats" }
  | { type: "shutdown" };

export interface EngineStats {
  frames: number;
  active: number;
  finalized: number;
  discarded: number;
  persisted: number;
  saveFailures: number;
  waitingForStorage: number;
  recovered: number;
}

const BATCH = 20_000;

export class Engine {
  private readonly reader: RingReader;
  private readonly drainer: Drainer;
  private readonly persister: Persister;
  private journal?: Journal;
  private stopping = false;
  private loopDone?: Promise<void>;
  /** Ends the loop's poll sleep early: its timer is unref'd and must not be what shutdown waits on. */
  private wakeLoop?: () => void;
  private stopCleanup?: () => void;
  private recoveredCount = 0;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly storage: RecordingStorage,
    private readonly options: EngineOptions,
    private readonly warn: (message: string) => void = (m) => console.warn(`hono-replay: ${m}`),
    private readonly waitMode: "atomics" | "poll" = "atomics",
  ) {
    this.reader = new RingReader(buffer);
    this.persister = new Persister(
      storage,
      {
        persistenceRetryAttempts: options.persistenceRetryAttempts,
        persistenceRetryDelayMs: options.persistenceRetryDelayMs,
        spillDir: options.journalDir && join(options.journalDir, "spill"),
      },
      (id) => this.journal?.markDone(id),
      warn,
    );
    this.drainer = new Drainer((r: Finalized) => this.persister.persist(r), options.idleTimeoutMs);
  }

  /** Recovers the journal (after a worker restart) and orphans of dead processes, then drains. */
  async start(): Promise<void> {
    if (this.options.journalDir) {
      const path = join(this.options.journalDir, this.options.journalName);
      const previous = Journal.read(path);
      this.drainer.ingest(previous.frames);
      if (previous.position !== undefined) this.reader.skipTo(previous.position);
      this.journal = new Journal(path);
      await this.recoverOrphans();
    }
    this.stopCleanup = backgroundTimer(() => void this.cleanup(), this.options.cleanupIntervalMs, true);
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.reader.beat();
      if (this.drainOnce() > 0) {
        await yieldToEventLoop();
        continue;
      }
      this.drainer.tick();
      if (this.waitMode === "atomics") await this.reader.wait(50);
      else await new Promise<void>((resolve) => ((this.wakeLoop = resolve), backgroundTimer(resolve, 10)));
    }
  }

  /** Moves one batch from the ring into the journal and the active recordings. */
  private drainOnce(): number {
    const frames = this.reader.readAvailable(BATCH);
    if (frames.length === 0) return 0;
    this.journal?.append(frames, this.reader.position);
    this.reader.commit();
    this.drainer.ingest(frames);
    this.journal?.compactIfLarge(() => this.drainer.activeFrames(), this.reader.position);
    return frames.length;
  }

  async handle(request: EngineRequest): Promise<unknown> {
    switch (request.type) {
      case "getActive":
        this.drainAll();
        return this.drainer.activeText(request.id) ?? null;
      case "listActive":
        this.drainAll();
        return this.drainer.activeSummaries() satisfies RecordingSummary[];
      case "flush":
        this.drainAll();
        await this.persister.settled();
        return this.stats();
      case "cleanup":
        return this.cleanup();
      case "stats":
        return this.stats();
      case "shutdown":
        return this.shutdown();
    }
  }

  private drainAll(): void {
    while (this.drainOnce() > 0);
  }

  private stats(): EngineStats {
    const d = this.drainer.stats;
    return {
      frames: d.frames,
      active: this.drainer.size,
      finalized: d.finalized,
      discarded: d.discarded,
      persisted: this.persister.persisted,
      saveFailures: this.persister.failures,
      waitingForStorage: this.persister.waiting,
      recovered: this.recoveredCount,
    };
  }

  async cleanup(): Promise<string[]> {
    try {
      await this.persister.retryHeld();
      return await this.storage.cleanup({
        maxRecordings: this.options.maxRecordings,
        maxAgeMs: this.options.maxRecordingAgeMs,
      });
    } catch (error) {
      this.warn(`cleanup failed: ${(error as Error).message}`);
      return [];
    }
  }

  /** Drains everything, finalizes every active recording and waits until it is persisted. */
  async shutdown(): Promise<EngineStats> {
    this.stopping = true;
    // In poll mode the loop may sleep on an unref'd timer: with nothing else
    // pending, Node would exit mid-shutdown, before anything is persisted.
    this.wakeLoop?.();
    await this.loopDone;
    this.stopCleanup?.();
    this.drainAll();
    this.drainer.finalizeAll();
    await this.persister.settled();
    this.journal?.close(this.persister.waiting === 0);
    return this.stats();
  }

  /** Journals left by processes that died (SIGKILL, power loss): finalize what they held, marked recovered. */
  private async recoverOrphans(): Promise<void> {
    const dir = this.options.journalDir!;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith(".journal") || name === this.options.journalName) continue;
      const pid = Number(basename(name).split("-")[0]);
      if (!Number.isInteger(pid) || (await processAlive(pid))) continue;
      const path = join(dir, name);
      const { frames } = Journal.read(path);
      const orphans = new Drainer((r) => this.persister.persist(r), Infinity);
      orphans.ingest(frames);
      this.recoveredCount += orphans.size;
      orphans.finalizeAll(true);
      await this.persister.settled();
      if (this.persister.waiting === 0) await rm(path, { force: true });
      await sleep(0);
    }
  }
}
