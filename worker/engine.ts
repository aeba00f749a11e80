/**
 * The drain loop: ring → journal → this instance's unsent frames → segments in
 * the store (delivery.ts: segments, finalization, retries); recovery of
 * journals whose instance died (orphans.ts). The same engine runs inside the
 * persistence worker or, where there is no worker (or the storage cannot be
 * opened in one), in the request thread.
 *
 * Invariants, and why:
 * - Storage faults (a full disk, a database that is down) never end the loop:
 *   store work fails into a retry with backoff (delivery.ts), the journal
 *   stops appending and rewrites itself once it can (worker/journal.ts).
 * - Memory stays bounded however long the outage. Frames the store has not
 *   taken are held in memory up to `maxHeldChars`; past that the loop stops
 *   reading the ring, which fills, then the request thread's overflow, and
 *   then frames are dropped and counted there (worker/log.ts). Delivery
 *   resumes by itself.
 * - A batch is journaled before the ring's read position is committed: a
 *   replacement worker (or another instance) rebuilds what never reached the
 *   store, none of it twice.
 * - Erasure marks (erasure.ts) filter what leaves the ring and what a
 *   recovered journal holds, and a recording they cover is deleted instead of
 *   finalized.
 * - Handled faults are counted in `stats().faults` and logged through the
 *   engine's `Logger` (in the worker, one that posts to the host, which logs).
 * - Maintenance recovers orphaned journals before the store sweep finalizes
 *   what went idle, and the sweep waits for a recovery under way here (at
 *   start, for an erasure): finalizing merges a recording's segments and
 *   deletes them, and a journal recovered after that may hold frames of a
 *   segment the store took just before its instance was killed (orphans.ts).
 *   Its recovered segment, under that segment's key but with nothing left to
 *   replace, would be merged a second time: repeated events. A round whose
 *   recovery failed (the store is down) or is not settled (orphans.ts: another
 *   instance sharing the journal directory is recovering a journal) does not
 *   sweep; recovery that stays unsettled (a journal that cannot be delivered,
 *   marks that cannot be read) holds the sweep back at most `idleTimeoutMs`,
 *   so recordings are never left unfinalized for good. Journals this engine
 *   cannot see yet (another machine's directory; a dead instance in another
 *   PID namespace, for STALE_JOURNAL_MS) are not covered: that would take a
 *   saved recording that says how many frames of each instance it holds.
 */

import { join } from "node:path";
import { DEFAULTS, ENGINE_DEFAULTS } from "../defaults.ts";
import { consoleLogger, Faults, type Logger } from "../logger.ts";
import type { RecordingStorage } from "../storage/mod.ts";
import { Delivery } from "./delivery.ts";
import { Drainer } from "./drain.ts";
import type { EngineOptions, EngineRequest, EngineStats } from "./engine_types.ts";
import { EngineErasures, ERASURE_POLL_MS } from "./erasure.ts";
import { Journal } from "./journal.ts";
import { journalName } from "./journal_name.ts";
import { Orphans } from "./orphans.ts";
import { nextWait, POLL_MS } from "./loop_wait.ts";
import { RingReader } from "./ring.ts";
import { backgroundTimer, yieldToEventLoop } from "./runtime.ts";

const BATCH = 20_000;
export class Engine {
  private readonly reader: RingReader;
  private readonly drainer: Drainer;
  private readonly erasures: EngineErasures;
  private readonly delivery: Delivery;
  private readonly faults: Faults;
  private readonly orphans?: Orphans;
  private journal?: Journal;
  private stopping = false;
  /** Set by a closing request: the held-frames bound no longer stops the ring from being read. */
  private closing = false;
  private loopDone?: Promise<void>;
  /** Ends the loop's pause early: only shutdown, once stopping, so no second ring wait ever overlaps one (`pause`). */
  private wakeLoop?: () => void;
  private stopTimers: (() => void)[] = [];
  private maintaining?: Promise<void>;
  /** Since when every maintenance round's recovery failed or was unsettled: the sweep waits for it, at most idleTimeoutMs. */
  private unsettledSince?: number;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly storage: RecordingStorage,
    private readonly options: EngineOptions,
    private readonly logger: Logger = consoleLogger,
    private readonly waitMode: "atomics" | "poll" = "atomics",
  ) {
    this.reader = new RingReader(buffer).takeOver();
    this.faults = new Faults(logger);
    this.drainer = new Drainer((id, since) => this.delivery.ending(id, since), {
      maxChars: options.segmentMaxChars ?? ENGINE_DEFAULTS.segmentMaxChars,
      maxAgeMs: options.segmentMaxAgeMs ?? ENGINE_DEFAULTS.segmentMaxAgeMs,
      stretch: { maxMs: options.idleTimeoutMs / 4, belowChars: (options.maxHeldChars ?? DEFAULTS.overflowLimit) / 4 },
    });
    this.erasures = new EngineErasures({
      storage,
      drainer: this.drainer,
      warn: (message) => logger.warn(message),
      settled: () => this.delivery.settled(),
      compactJournal: () => this.journal?.compact(() => this.drainer.unsentFrames(), this.reader.position),
      scrubJournals: async () => {
        if (this.orphans && !this.stopping) await this.orphans.recover();
      },
    });
    this.delivery = new Delivery({
      storage,
      drainer: this.drainer,
      erasures: this.erasures,
      options,
      logger,
      // Segment keys start with the instance id; without a journal (nothing carries the sent counts over to a
      // replacement worker) also with this engine's start time, so a replacement never overwrites its predecessor's segments.
      segmentPrefix: options.journalDir ? options.instanceId : `${options.instanceId}-${Date.now().toString(36).padStart(9, "0")}`,
      journal: () => this.journal,
      full: () => this.full(),
    });
    if (options.journalDir) {
      const { instanceId, journalDir: dir } = options;
      this.orphans = new Orphans({ dir, instanceId, storage, erasures: this.erasures, delivery: this.delivery, logger, faults: this.faults });
    }
  }

  /** Rebuilds this instance's journal (after a worker restart), drains, and recovers dead instances' journals. */
  async start(): Promise<void> {
    // The erasure marks come from the store, which may be slow or down: the ring is drained
    // meanwhile (applying a mark takes out what it covers, from the journal too), and other
    // instances' journals wait for them (Orphans.recover).
    const marksRead = this.erasures.poll();
    if (this.options.journalDir) await this.reopenJournal(join(this.options.journalDir, await journalName(this.options.instanceId)));
    this.stopTimers.push(backgroundTimer(() => void this.cleanup(), this.options.cleanupIntervalMs, true));
    // Recordings whose instances went away are finalized by the store sweep;
    // journals of instances that died while this one runs are recovered by it too.
    const every = Math.max(250, Math.min(60_000, this.options.idleTimeoutMs / 4));
    this.stopTimers.push(backgroundTimer(() => void this.maintain(), every, true));
    this.stopTimers.push(backgroundTimer(() => void this.erasures.poll(), ERASURE_POLL_MS, true));
    this.loopDone = this.loop();
    await marksRead;
    // Never rejects once the loop runs (the host would start a second engine on the ring): a store
    // that is down fails recovery into a retry by maintenance, as any store work does.
    try {
      await this.orphans?.recover();
    } catch (error) {
      this.delivery.storeFailed(error, "recovering orphaned journals");
    }
  }

  /** Takes over what this instance's journal holds (a predecessor worker's frames and sent counts), and appends to it. */
  private async reopenJournal(path: string): Promise<void> {
    const previous = Journal.read(path);
    // Marks already read filter it here; marks read later take out what they cover when applied.
    const frames = this.erasures.filter(previous.frames);
    this.drainer.ingest(frames);
    for (const [id, sent] of previous.sent) {
      const rec = this.drainer.get(id);
      if (rec) rec.sentFrames = sent;
    }
    if (previous.position !== undefined) this.reader.skipTo(previous.position);
    this.journal = new Journal(path, undefined, undefined, this.logger);
    // The predecessor died before it took erased frames out: they go now.
    if (frames.length < previous.frames.length) this.journal.compact(() => this.drainer.unsentFrames(), this.reader.position);
  }

  /** Recovers orphaned journals, then finalizes what went idle in the store (in that order: see the header); one run at a time. */
  maintain(now = Date.now()): Promise<void> {
    this.maintaining ??= (async () => {
      if (!(await this.recoverOrphans(now))) return;
      try {
        await this.delivery.sweepStore(now);
      } catch (error) {
        this.delivery.storeFailed(error, "sweeping the store");
      }
    })().finally(() => (this.maintaining = undefined));
    return this.maintaining;
  }

  /** Recovers orphaned journals (after a recovery under way); whether the store may be swept now. */
  private async recoverOrphans(now: number): Promise<boolean> {
    if (!this.orphans || this.stopping) return true;
    try {
      if (await this.orphans.recover()) {
        this.unsettledSince = undefined;
        return true;
      }
    } catch (error) {
      this.delivery.storeFailed(error, "recovering orphaned journals");
    }
    this.unsettledSince ??= now;
    return now - this.unsettledSince > this.options.idleTimeoutMs;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.reader.beat();
      const drained = this.drainOnce();
      this.delivery.sendDue(Date.now());
      // A full batch means more is waiting: read on after letting store work run.
      if (drained >= BATCH) {
        await yieldToEventLoop();
        continue;
      }
      // Otherwise the ring is read again after a pause (nextWait): every wake-up costs the thread
      // (the worker, or in-process the request thread) a context switch and the journal a write.
      // Holding its bound, the engine leaves frames in the ring: waiting on the ring would return at
      // once, in a microtask, and the loop would spin without ever letting store work complete.
      await this.pause(drained);
    }
  }

  /**
   * Sleeps between reads: on the ring (nextWait; a first frame or a nudge ends
   * it) where the runtime can wait on shared memory, else, or while the engine
   * holds its bound, for POLL_MS on a timer. Shutdown's `wakeLoop` ends either:
   * neither an unref'd timer nor a wait on shared memory keeps Node or Deno
   * running, so a shutdown awaiting the loop must not wait on them alone.
   */
  private pause(drained: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeLoop = resolve;
      if (this.waitMode === "poll" || this.full()) return void backgroundTimer(resolve, POLL_MS);
      const { timeoutMs, mode } = nextWait(drained, drained > 0 ? undefined : this.drainer.nextDueIn(Date.now()));
      // wait() cannot reject: it ends on a signal or its timeout.
      void this.reader.wait(timeoutMs, mode).then(resolve);
    });
  }

  /**
   * Moves one batch from the ring into the journal and the unsent frames,
   * unless the engine holds `maxHeldChars` already (not while stopping: what
   * is left goes to the store or the journal now). Retries a failed journal.
   */
  private drainOnce(): number {
    const read = this.stopping || this.closing || !this.full() ? this.reader.readAvailable(BATCH) : [];
    if (read.length) {
      const frames = this.erasures.filter(read);
      this.journal?.append(frames, this.reader.position);
      this.reader.commit();
      this.drainer.ingest(frames);
    }
    this.journal?.compactIfLarge(() => this.drainer.unsentFrames(), this.reader.position);
    return read.length;
  }

  private full(): boolean {
    return this.drainer.heldChars >= (this.options.maxHeldChars ?? DEFAULTS.overflowLimit);
  }

  async handle(request: EngineRequest): Promise<unknown> {
    switch (request.type) {
      case "sendSegments":
        await this.sendAll();
        return this.stats();
      case "flush":
        await this.sendAll();
        await this.delivery.settled();
        return this.stats();
      case "maintain":
        await this.maintain();
        return true;
      case "cleanup":
        return this.cleanup();
      case "stats":
        return this.stats();
      case "closing":
        this.closing = true;
        return true;
      case "erase":
        return this.erasures.apply(request.erasure);
      case "shutdown":
        return this.shutdown();
    }
  }

  /** Drains the ring and writes every unsent frame now. */
  private async sendAll(): Promise<void> {
    while (this.drainOnce() > 0);
    await this.delivery.sendAll();
  }

  private stats(): EngineStats {
    const waiting = this.drainer.due(Date.now(), true).length;
    const counts = this.delivery.counts;
    return {
      frames: this.drainer.stats.frames,
      active: this.drainer.size,
      finalized: counts.finalized,
      discarded: counts.discarded,
      segments: counts.segments,
      persisted: counts.persisted,
      saveFailures: counts.failures,
      waitingForStorage: this.delivery.failing ? waiting : 0,
      recovered: counts.recovered,
      heldChars: this.drainer.heldChars,
      journalFailure: this.journal?.failure,
      faults: { ...this.faults.all(), ...this.journal?.faultCounts() },
    };
  }

  async cleanup(): Promise<string[]> {
    try {
      return await this.storage.cleanup({ maxRecordings: this.options.maxRecordings, maxAgeMs: this.options.maxRecordingAgeMs });
    } catch (error) {
      this.logger.warn(`cleanup failed: ${(error as Error).message}`);
      return [];
    }
  }

  /**
   * Drains everything and writes every unsent frame; recordings this instance
   * let go (the recorder sends a leave for each on close) are finalized unless
   * another instance carries them on. What the store would not take stays in
   * the journal, for the next instance to recover.
   */
  async shutdown(): Promise<EngineStats> {
    this.stopping = true;
    // The loop (and its heartbeat) ends here, but saving what is left can take longer than the
    // host's heartbeat timeout: without beats it would take this worker for stuck and replace it.
    const stopBeating = backgroundTimer(() => this.reader.beat(), POLL_MS * 10, true);
    try {
      // The loop may sleep on an unref'd timer or on the ring: with nothing else
      // pending, the process would exit mid-shutdown, before anything is persisted.
      this.wakeLoop?.();
      this.reader.wake();
      await this.loopDone;
      for (const stop of this.stopTimers) stop();
      await this.maintaining;
      await this.erasures.idle();
      await this.sendAll();
      const unsent = this.drainer.due(Date.now(), true).length;
      // The host reports what could not be saved (stats().waitingForStorage, journalFailure).
      if (unsent) this.journal?.compactIfLarge(() => this.drainer.unsentFrames(), this.reader.position, true);
      // A journal that could not be written holds nothing: there is nothing to release.
      if (unsent && !this.journal?.failure) this.journal?.release();
      else this.journal?.close(true);
      // Unsent at close is unsaved, whether or not the store failed: close() must say so.
      return { ...this.stats(), waitingForStorage: unsent };
    } finally {
      stopBeating();
    }
  }
}
