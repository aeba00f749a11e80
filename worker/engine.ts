/**
 * The drain loop: ring → journal → active recordings → persister, plus cleanup.
 * The same engine runs inside the persistence worker or, where there is no
 * worker (or the storage cannot be opened in one), in the request thread.
 */

import { readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { basename, join } from "node:path";
import { randomToken, type RecordingSummary } from "../format/mod.ts";
import type { RecordingStorage } from "../storage/mod.ts";
import { Drainer, type Finalized } from "./drain.ts";
import { Journal } from "./journal.ts";
import { Persister } from "./persist.ts";
import { RingReader } from "./ring.ts";
import { backgroundTimer, currentPid, processAlive, sleep, yieldToEventLoop } from "./runtime.ts";

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
/** How often an idle worker looks at the ring: the request thread does not wake it per frame. */
const POLL_MS = 10;

/**
 * A journal whose engine has not touched it for this long is orphaned even if
 * its pid is alive: the pid was reused (a container restarts its server as the
 * same pid). Live engines touch theirs every second.
 */
const STALE_JOURNAL_MS = 30_000;

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
  private stopMaintenance?: () => void;
  private maintaining?: Promise<void>;
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
      // Recordings an earlier run spilled during an outage: deliver them now, in the background.
      void this.persister.retryHeld();
    }
    this.stopCleanup = backgroundTimer(() => void this.cleanup(), this.options.cleanupIntervalMs, true);
    // Spilled recordings wait for the storage to come back, and journals of
    // processes that died while this one runs wait to be recovered: neither
    // should wait for the (hourly) cleanup.
    const every = Math.min(60_000, Math.max(1_000, this.options.persistenceRetryDelayMs * 5));
    this.stopMaintenance = backgroundTimer(() => void this.maintain(), every, true);
    this.loopDone = this.loop();
  }

  /** Delivers what waits out an outage and recovers orphaned journals; one run at a time. */
  maintain(): Promise<void> {
    this.maintaining ??= (async () => {
      try {
        await this.persister.retryHeld();
        if (this.options.journalDir && !this.stopping) await this.recoverOrphans();
      } catch (error) {
        this.warn(`maintenance failed: ${(error as Error).message}`);
      }
    })().finally(() => (this.maintaining = undefined));
    return this.maintaining;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.reader.beat();
      if (this.drainOnce() > 0) {
        await yieldToEventLoop();
        continue;
      }
      this.drainer.tick();
      if (this.waitMode === "atomics") await this.reader.wait(POLL_MS);
      else await new Promise<void>((resolve) => ((this.wakeLoop = resolve), backgroundTimer(resolve, POLL_MS)));
    }
  }

  /** Moves one batch from the ring into the journal and the active recordings. */
  private drainOnce(): number {
    const frames = this.reader.readAvailable(BATCH);
    if (frames.length === 0) return 0;
    this.journal?.append(frames, this.reader.position);
    this.reader.commit();
    this.drainer.ingest(frames);
    // Compaction keeps only active recordings: not while a finalized one is
    // still on its way to the storage, whose frames only the journal holds.
    if (this.persister.pending === 0) this.journal?.compactIfLarge(() => this.drainer.activeFrames(), this.reader.position);
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
    this.stopMaintenance?.();
    await this.maintaining;
    this.drainAll();
    this.drainer.finalizeAll();
    await this.persister.settled();
    this.journal?.close(this.persister.waiting === 0);
    return this.stats();
  }

  /**
   * Journals left by processes that died (SIGKILL, power loss): finalize what
   * they held, marked recovered. A journal is claimed by renaming it to this
   * process's pid first, so two processes starting at once do not both recover
   * it, and one that dies while recovering leaves it to the next.
   */
  private async recoverOrphans(): Promise<void> {
    const dir = this.options.journalDir!;
    const pid = await currentPid();
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith(".journal") || name === this.options.journalName) continue;
      const path = join(dir, name);
      if (!(await isOrphan(name, path))) continue;
      const claimed = join(dir, `${pid}-recovering-${randomToken(8)}.journal`);
      try {
        await rename(path, claimed);
        const now = new Date();
        await utimes(claimed, now, now);
      } catch {
        continue; // another process claimed it first
      }
      const { frames } = Journal.read(claimed);
      const orphans = new Drainer((r) => this.persister.persist(r), Infinity);
      orphans.ingest(frames);
      this.recoveredCount += orphans.size;
      orphans.finalizeAll(true);
      await this.persister.settled();
      if (this.persister.waiting === 0) await rm(claimed, { force: true });
      await sleep(0);
    }
  }
}

async function isOrphan(name: string, path: string): Promise<boolean> {
  const pid = Number(basename(name).split("-")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!(await processAlive(pid))) return true;
  const touched = await stat(path).then((s) => s.mtimeMs, () => Date.now());
  return Date.now() - touched > STALE_JOURNAL_MS;
}
