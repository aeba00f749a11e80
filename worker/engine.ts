/**
 * The drain loop: ring → journal → this instance's unsent frames → segments in
 * the store; finalization; recovery of journals whose instance died. The same
 * engine runs inside the persistence worker or, where there is no worker (or
 * the storage cannot be opened in one), in the request thread.
 *
 * Several instances may record one session, so the store is where a recording
 * comes together, and finalizing means: take the recording's lease, merge its
 * segments (after what an earlier finalization stored), save, delete those
 * segments. Finalization is idempotent and can run again when more segments
 * come in later (a session that came back to another instance): nothing is
 * ever lost to a race, only finalized once more. It happens
 * - on `c.var.replay.end()` (an end frame), at once;
 * - when an instance lets a recording go (idle, beacon, shutdown: a leave
 *   frame), unless the store shows another instance's activity after it;
 * - when the store shows no activity for `idleTimeoutMs`, by whichever instance
 *   sweeps first: that covers instances that were killed or scaled away.
 *
 * Storage faults (a full disk, a database that is down) never end the loop:
 * store work fails into a retry with backoff (at most MAX_RETRY_MS apart), the
 * journal stops appending and rewrites itself once it can (worker/journal.ts).
 * Frames the store has not taken are held in memory up to `maxHeldChars`; past
 * that the loop stops reading the ring, which fills, then the request thread's
 * overflow, and then frames are dropped and counted there (worker/log.ts):
 * memory stays bounded however long the outage, and delivery resumes by itself.
 * Near the bound, recordings nobody interacted with yet are written too, so a
 * flood of page views cannot hold the loop up while the store works.
 *
 * Erasure marks (erasure.ts) filter what leaves the ring and what a recovered
 * journal holds, and a recording they cover is deleted instead of finalized.
 */

import { readdir, readlink, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import {
  assembleSegments,
  decodeRecordingColumns,
  encodeRecordingFile,
  frame,
  FrameKind,
  parseFrameHeader,
  randomToken,
  RecordingNotFoundError,
} from "../format/mod.ts";
import type { Erasure, RecordingStorage, Segment } from "../storage/mod.ts";
import { type Active, Drainer } from "./drain.ts";
import { EngineErasures, ERASURE_POLL_MS } from "./erasure.ts";
import { COMPACTING, Journal, RELEASED } from "./journal.ts";
import { untrustedJournal } from "./private_dir.ts";
import { DEFAULTS } from "../defaults.ts";
import { RingReader } from "./ring.ts";
import { backgroundTimer, currentPid, processAlive, sleep, yieldToEventLoop } from "./runtime.ts";
import { zlibDeflate } from "./zlib.ts";

export interface EngineOptions {
  /** This instance: it names its segments, its journal and its leases. */
  instanceId: string;
  /** The store shows no activity for this long: the recording is finalized by whichever instance sees it first. */
  idleTimeoutMs: number;
  persistenceRetryAttempts: number;
  persistenceRetryDelayMs: number;
  maxRecordings: number;
  maxRecordingAgeMs: number;
  cleanupIntervalMs: number;
  /** Directory for journals; undefined runs without a journal. */
  journalDir?: string;
  /** A segment is written when it holds this many frames… Default 256. */
  segmentMaxFrames?: number;
  /** …or its oldest frame is this old. Default 1,000 ms. */
  segmentMaxAgeMs?: number;
  /**
   * Past this many characters of frames held for the store the ring is not
   * read (so at most this plus one batch, a ring's worth). Default `DEFAULTS.overflowLimit`.
   */
  maxHeldChars?: number;
}

export type EngineRequest =
  | { type: "sendSegments" }
  | { type: "maintain" }
  | { type: "flush" }
  | { type: "cleanup" }
  | { type: "stats" }
  /** close() is under way: read the ring whatever the engine holds, so the request thread's overflow can move in. */
  | { type: "closing" }
  | { type: "erase"; erasure: Erasure }
  | { type: "shutdown" };

export interface EngineStats {
  frames: number;
  /** Recordings this instance holds frames or an unfinished end of. */
  active: number;
  finalized: number;
  discarded: number;
  /** Segments written to the store. */
  segments: number;
  /** Finalizations saved (first ones and later ones). */
  persisted: number;
  /** Store operations that failed (they are retried). */
  saveFailures: number;
  /** Recordings whose frames wait for the store to come back. */
  waitingForStorage: number;
  /** Recordings rebuilt from the journal of an instance that died. */
  recovered: number;
  /** Characters of frames held in memory for the store (bounded by `maxHeldChars`). */
  heldChars: number;
  /** Why the crash journal cannot be written, while it cannot (a full disk). */
  journalFailure?: string;
}

const BATCH = 20_000;
/** How often the loop looks for segments that are due. */
const DUE_CHECK_MS = 50;
/** Store operations under way at once, at most (flush and shutdown wait for all). */
const MAX_IN_FLIGHT = 32;
/** How often an idle worker looks at the ring: the request thread does not wake it per frame. */
const POLL_MS = 10;
/** How long a finalization may hold a recording's lease; one that takes longer (a dead instance) is taken over. */
const CLAIM_TTL_MS = 60_000;
/** Longest wait between store retries while it is down: delivery resumes within this once it is back. */
const MAX_RETRY_MS = 5_000;

/**
 * A journal whose instance has not touched it for this long is orphaned: live
 * engines touch theirs every second. Within one PID namespace a dead pid says
 * so sooner.
 */
const STALE_JOURNAL_MS = 30_000;

export class Engine {
  private readonly reader: RingReader;
  private readonly drainer: Drainer;
  private readonly erasures: EngineErasures;
  private journal?: Journal;
  private stopping = false;
  /** Set by a closing request: the held-frames bound no longer stops the ring from being read. */
  private closing = false;
  private loopDone?: Promise<void>;
  /** Ends the loop's poll sleep early: its timer is unref'd and must not be what shutdown waits on. */
  private wakeLoop?: () => void;
  private stopTimers: (() => void)[] = [];
  private maintaining?: Promise<void>;
  /** Store work under way, by recording: one at a time per recording. */
  private readonly working = new Map<string, Promise<void>>();
  /** Recordings this instance holds nothing of that an end or leave asked to finalize: `since` of the leave, undefined for an end. */
  private readonly toFinalize = new Map<string, number | undefined>();
  /** While the store fails: no new attempt before this time. */
  private retryAt = 0;
  private lastDueCheck = 0;
  private failuresInARow = 0;
  private warnedStore = false;
  private readonly counts = { finalized: 0, discarded: 0, segments: 0, persisted: 0, failures: 0, recovered: 0 };
  /**
   * Segment keys start with the instance id; without a journal (nothing carries
   * the sent counts over to a replacement worker) also with this engine's start
   * time, so a replacement never overwrites its predecessor's segments.
   */
  private readonly segmentPrefix: string;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly storage: RecordingStorage,
    private readonly options: EngineOptions,
    private readonly warn: (message: string) => void = (m) => console.warn(`hono-replay: ${m}`),
    private readonly waitMode: "atomics" | "poll" = "atomics",
  ) {
    this.reader = new RingReader(buffer);
    this.segmentPrefix = options.journalDir ? options.instanceId : `${options.instanceId}-${Date.now().toString(36).padStart(9, "0")}`;
    this.drainer = new Drainer((id, since) => this.ending(id, since), {
      maxFrames: options.segmentMaxFrames ?? 256,
      maxAgeMs: options.segmentMaxAgeMs ?? 1_000,
    });
    this.erasures = new EngineErasures({
      storage,
      drainer: this.drainer,
      warn,
      settled: () => this.settled(),
      compactJournal: () => this.journal?.compact(() => this.drainer.unsentFrames(), this.reader.position),
      scrubJournals: () => (this.options.journalDir && !this.stopping ? this.recoverOrphans() : Promise.resolve()),
    });
  }

  /** Rebuilds this instance's journal (after a worker restart), drains, and recovers dead instances' journals. */
  async start(): Promise<void> {
    // The erasure marks come from the store, which may be slow or down: the ring is drained
    // meanwhile (applying a mark takes out what it covers, from the journal too), and other
    // instances' journals wait for them (recoverOrphans).
    const marksRead = this.erasures.poll();
    if (this.options.journalDir) {
      const path = join(this.options.journalDir, await journalName(this.options.instanceId));
      const previous = Journal.read(path);
      // Marks already read filter it here; marks read later take out what they cover when applied.
      const frames = this.erasures.filter(previous.frames);
      this.drainer.ingest(frames);
      for (const [id, sent] of previous.sent) {
        const rec = this.drainer.get(id);
        if (rec) rec.sentFrames = sent;
      }
      if (previous.position !== undefined) this.reader.skipTo(previous.position);
      this.journal = new Journal(path, undefined, undefined, this.warn);
      // The predecessor died before it took erased frames out: they go now.
      if (frames.length < previous.frames.length) this.journal.compact(() => this.drainer.unsentFrames(), this.reader.position);
    }
    this.stopTimers.push(backgroundTimer(() => void this.cleanup(), this.options.cleanupIntervalMs, true));
    // Recordings whose instances went away are finalized by the store sweep;
    // journals of instances that died while this one runs are recovered by it too.
    const every = Math.max(250, Math.min(60_000, this.options.idleTimeoutMs / 4));
    this.stopTimers.push(backgroundTimer(() => void this.maintain(), every, true));
    this.stopTimers.push(backgroundTimer(() => void this.erasures.poll(), ERASURE_POLL_MS, true));
    this.loopDone = this.loop();
    await marksRead;
    if (this.options.journalDir) await this.recoverOrphans();
  }

  /** Finalizes what went idle in the store and recovers orphaned journals; one run at a time. */
  maintain(): Promise<void> {
    this.maintaining ??= (async () => {
      try {
        await this.sweepStore(Date.now());
        if (this.options.journalDir && !this.stopping) await this.recoverOrphans();
      } catch (error) {
        this.storeFailed(error, "sweeping the store");
      }
    })().finally(() => (this.maintaining = undefined));
    return this.maintaining;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.reader.beat();
      const drained = this.drainOnce();
      this.sendDue(Date.now());
      if (drained > 0) {
        await yieldToEventLoop();
        continue;
      }
      // Holding its bound, the engine leaves frames in the ring: waiting on the ring would return
      // at once, in a microtask, and the loop would spin without ever letting store work complete.
      if (this.waitMode === "atomics" && !this.full()) await this.reader.wait(POLL_MS);
      else await new Promise<void>((resolve) => ((this.wakeLoop = resolve), backgroundTimer(resolve, POLL_MS)));
    }
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

  private drainAll(): void {
    while (this.drainOnce() > 0);
  }

  /**
   * Starts writing the segments that are due (all of them with `all`), finishing
   * what ends, and the idle safety net. Looks at most every DUE_CHECK_MS.
   */
  private sendDue(now: number): void {
    if (now < this.retryAt || now - this.lastDueCheck < DUE_CHECK_MS) return;
    this.lastDueCheck = now;
    for (const { id, work } of this.dueWork(now, false)) {
      // Bounded: a flood must not start thousands of writes at once and starve the loop (and its heartbeat).
      if (this.working.size >= MAX_IN_FLIGHT) break;
      if (!this.working.has(id)) void this.schedule(id, work);
    }
  }

  /** Store work that is due (all of it with `all`): ending recordings, segments full or old enough, finalizations asked for. */
  private dueWork(now: number, all: boolean): { id: string; work: () => Promise<void> }[] {
    for (const rec of this.drainer.idle(now, this.options.idleTimeoutMs)) rec.ending = { since: rec.lastAt };
    const out = this.drainer.due(now, all || this.full()).map((rec) => ({ id: rec.id, work: () => (rec.ending ? this.finish(rec.id) : this.send(rec)) }));
    for (const [id, since] of this.toFinalize) {
      out.push({ id, work: () => (this.toFinalize.delete(id), this.finalize(id, since)) });
    }
    return out;
  }

  /** Runs store work for one recording after what is already under way for it. */
  private schedule(id: string, work: () => Promise<void>): Promise<void> {
    const previous = this.working.get(id);
    if (previous) return previous;
    const job = work().catch((error) => this.storeFailed(error, `saving recording ${id}`)).finally(() => {
      if (this.working.get(id) === job) this.working.delete(id);
    });
    this.working.set(id, job);
    return job;
  }

  /** Writes the recording's unsent frames as one segment. */
  private async send(rec: Active): Promise<void> {
    if (rec.unsent.length === 0) return;
    const { segment, frames } = this.drainer.segmentOf(rec, this.segmentPrefix);
    await this.storage.appendSegment(segment);
    this.erasures.wrote(rec.id, rec.startLine);
    this.drainer.sent(rec, frames);
    this.counts.segments++;
    this.storeRecovered();
    this.journal?.markDone(rec.id, [rec.startLine, ...rec.unsent], rec.sentFrames);
    if (rec.ending) await this.finish(rec.id);
  }

  /**
   * An end or leave frame arrived for `id`: its work starts with the next due
   * check, within MAX_IN_FLIGHT like any other (thousands of recordings ending
   * at once, as on close(), started thousands of finalizations at once).
   */
  private ending(id: string, since: number | undefined): void {
    this.lastDueCheck = 0;
    if (this.drainer.get(id)) return; // ending: due
    // A recording this instance holds nothing of (it lives on another instance). An end outranks a leave.
    if (!(this.toFinalize.has(id) && this.toFinalize.get(id) === undefined)) this.toFinalize.set(id, since);
  }

  /** Sends what is left of an ending recording, then finalizes it and forgets it. */
  private async finish(id: string): Promise<void> {
    const rec = this.drainer.get(id);
    if (!rec?.ending) return;
    if (rec.interactions === 0 && rec.sentFrames === 0 && (await this.storage.loadSegments(id)).length === 0) {
      // Nobody interacted, here or (the store says) anywhere: discarded without a write.
      this.counts.discarded++;
      this.drainer.forget(id);
      this.journal?.markDone(id);
      return;
    }
    if (rec.unsent.length) return this.send(rec);
    await this.finalize(id, rec.ending.since);
    // Frames that came while finalizing (the session came back here) stay.
    if (rec.unsent.length === 0 && rec.ending) {
      this.drainer.forget(id);
      this.journal?.markDone(id);
    }
  }

  /**
   * Merges the recording's segments into its stored recording, under its lease.
   * With `since`, only if no instance was active after it. `abandoned` (the
   * store sweep: no instance ended or let go of it) marks it recovered.
   */
  private async finalize(id: string, since?: number, abandoned = false): Promise<void> {
    const owner = this.options.instanceId;
    if (!(await this.storage.claim(id, owner, CLAIM_TTL_MS))) return; // another instance is at it
    try {
      const segments = await this.storage.loadSegments(id);
      if (segments.length === 0) return;
      if (since !== undefined && segments.some((s) => s.lastAt > since)) return;
      const base = await this.loadBase(id);
      const assembled = assembleSegments(id, segments, base);
      // Nothing to replay from yet (no mount, no snapshot): wait for the rest, unless it is long overdue.
      if (!assembled && segments.some((s) => s.lastAt > Date.now() - 2 * this.options.idleTimeoutMs)) return;
      // Nobody ended or let go of it: its instances vanished (killed, scaled away). Not ended normally.
      if (assembled && abandoned) assembled.meta.recovered = true;
      const meta = assembled?.meta ?? base?.meta;
      if (this.erasures.isErased(id, meta, assembled?.columns ?? base?.columns)) {
        await this.storage.delete(id); // erased: what reached the store of it goes, instead of coming back
        return;
      }
      if (assembled && (base || assembled.interactions > 0)) {
        const bytes = encodeRecordingFile(assembled.meta, assembled.columns, zlibDeflate);
        await this.storage.save({ ...assembled.meta, sizeBytes: bytes.length }, bytes);
        this.erasures.wrote(id, assembled.meta);
        this.counts.persisted++;
        if (!base) this.counts.finalized++;
      } else if (!base) {
        this.counts.discarded++; // nobody did anything
      }
      await this.storage.deleteSegments(id, segments.map((s) => s.key));
      this.storeRecovered();
    } finally {
      await this.storage.release(id, owner);
    }
  }

  private async loadBase(id: string) {
    try {
      return decodeRecordingColumns(id, await this.storage.load(id));
    } catch (error) {
      if (error instanceof RecordingNotFoundError) return undefined;
      throw error;
    }
  }

  /** Finalizes recordings whose latest segment is older than the idle timeout, whoever wrote them. */
  private async sweepStore(now: number): Promise<void> {
    const cutoff = now - this.options.idleTimeoutMs;
    const latest = new Map<string, number>();
    for (const s of await this.storage.listSegments()) latest.set(s.recordingId, Math.max(latest.get(s.recordingId) ?? 0, s.lastAt));
    for (const [id, lastAt] of latest) {
      if (lastAt >= cutoff || this.drainer.get(id)) continue;
      await this.schedule(id, () => this.finalize(id, cutoff, true));
    }
  }

  private storeFailed(error: unknown, what: string): void {
    this.counts.failures++;
    this.failuresInARow++;
    const base = Math.max(50, this.options.persistenceRetryDelayMs);
    this.retryAt = Date.now() + Math.min(MAX_RETRY_MS, base * 2 ** Math.min(10, this.failuresInARow - 1));
    if (!this.warnedStore) {
      this.warnedStore = true;
      this.warn(`${what} failed (${(error as Error)?.message ?? error}); its frames wait in memory and are retried (further failures are counted in stats().saveFailures; past overflowLimit characters, frames are dropped and counted in engine.dropped)`);
    }
  }

  private storeRecovered(): void {
    if (this.failuresInARow === 0) return;
    this.failuresInARow = 0;
    this.retryAt = 0;
    this.warnedStore = false;
  }

  async handle(request: EngineRequest): Promise<unknown> {
    switch (request.type) {
      case "sendSegments":
        await this.sendAll();
        return this.stats();
      case "flush":
        await this.sendAll();
        await this.settled();
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

  /** Drains the ring and writes every unsent frame now, MAX_IN_FLIGHT store operations at a time. */
  private async sendAll(): Promise<void> {
    this.drainAll();
    const jobs = this.dueWork(Date.now(), true);
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const { id, work } = jobs[next++];
        await this.schedule(id, work);
      }
    };
    await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, lane));
    await this.settled();
  }

  /** Resolves when no store work is under way. */
  private async settled(): Promise<void> {
    while (this.working.size) await Promise.all([...this.working.values()]);
  }

  private stats(): EngineStats {
    const waiting = this.drainer.due(Date.now(), true).length;
    return {
      frames: this.drainer.stats.frames,
      active: this.drainer.size,
      finalized: this.counts.finalized,
      discarded: this.counts.discarded,
      segments: this.counts.segments,
      persisted: this.counts.persisted,
      saveFailures: this.counts.failures,
      waitingForStorage: this.failuresInARow > 0 ? waiting : 0,
      recovered: this.counts.recovered,
      heldChars: this.drainer.heldChars,
      journalFailure: this.journal?.failure,
    };
  }

  async cleanup(): Promise<string[]> {
    try {
      return await this.storage.cleanup({ maxRecordings: this.options.maxRecordings, maxAgeMs: this.options.maxRecordingAgeMs });
    } catch (error) {
      this.warn(`cleanup failed: ${(error as Error).message}`);
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
      // In poll mode the loop may sleep on an unref'd timer: with nothing else
      // pending, Node would exit mid-shutdown, before anything is persisted.
      this.wakeLoop?.();
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
      return this.stats();
    } finally {
      stopBeating();
    }
  }

  /**
   * Journals left by instances that died (SIGKILL, power loss): their unsent
   * frames go to the store as segments, marked recovered; the store sweep
   * finalizes the recordings once idle (another instance may be carrying them
   * on). A journal is claimed by renaming it first, so two instances starting
   * at once do not both recover it, and one that dies while recovering leaves
   * it to the next.
   */
  private async recoverOrphans(): Promise<void> {
    // Until the erasure marks are known, nothing of a journal may be delivered: they decide what must not be.
    if (!this.erasures.loaded) return;
    const dir = this.options.journalDir!;
    const own = await journalName(this.options.instanceId);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.endsWith(COMPACTING) && name !== own + COMPACTING) await this.removeAbandoned(join(dir, name));
      if (!name.endsWith(".journal") || name === own) continue;
      const path = join(dir, name);
      const distrusted = untrustedJournal(path);
      if (distrusted) {
        this.warn(`${path} is not delivered: ${distrusted}. Journals this library writes are this user's, mode 600; remove the file (or, if it is yours, chmod 600 it)`);
        continue;
      }
      if (!(await isOrphan(name, path))) continue;
      // `recovering-…` until done: one that stays (its instance died meanwhile) goes stale and is taken again.
      const claimed = join(dir, `recovering-${this.options.instanceId}-${randomToken(8)}.journal`);
      try {
        await rename(path, claimed);
        const now = new Date();
        await utimes(claimed, now, now);
      } catch {
        continue; // another instance claimed it first
      }
      try {
        await this.recoverJournal(claimed, name);
      } catch (error) {
        // The store is down: give it back, for whoever tries next (segment keys make a retry harmless).
        await rename(claimed, name.startsWith(RELEASED) ? path : join(dir, RELEASED + name)).catch((e) => this.warn(`cannot release ${claimed}: ${e.message}`));
        throw error;
      }
      await sleep(0);
    }
  }

  /**
   * A journal's compaction writes `….journal.compact` and renames it within one
   * synchronous call; one that stays (its process died mid-compaction) would
   * hold its space for good.
   */
  private async removeAbandoned(path: string): Promise<void> {
    const touched = await stat(path).then((s) => s.mtimeMs, () => Date.now());
    if (Date.now() - touched < STALE_JOURNAL_MS) return;
    await rm(path, { force: true });
    this.warn(`removed ${path}: a journal compaction its process did not finish`);
  }

  private async recoverJournal(path: string, name: string): Promise<void> {
    const frames = this.erasures.filter(Journal.read(path).frames);
    const byId = new Map<string, string[]>();
    /** Recordings the instance had ended (undefined) or let go (since). */
    const ended = new Map<string, number | undefined>();
    for (const line of frames) {
      const h = parseFrameHeader(line);
      if (!h) continue;
      if (h.kind === FrameKind.end) ended.set(h.id, undefined);
      if (h.kind === FrameKind.leave && !ended.has(h.id)) ended.set(h.id, Number(h.label));
      let of = byId.get(h.id);
      if (!of) byId.set(h.id, (of = []));
      of.push(line);
    }
    // A journal released on a clean shutdown is not a crash; one left behind is.
    const crashed = !name.startsWith(RELEASED);
    const owner = name.replace(RELEASED, "").replace(/\.journal$/, "").replace(/[^A-Za-z0-9_-]/g, "_");
    for (const [id, lines] of byId) {
      // The same key on a retry: appending again replaces, never duplicates.
      const segment = journalSegment(id, lines, `${owner}-r`, crashed);
      if (segment) {
        await this.storage.appendSegment(segment);
        this.erasures.wroteSegment(segment);
        this.counts.recovered++;
      }
      if (ended.has(id)) await this.schedule(id, () => this.finalize(id, ended.get(id)));
    }
    await rm(path, { force: true });
  }
}

/** One segment of what a journal held of a recording; marked recovered when its instance crashed. */
function journalSegment(id: string, lines: string[], key: string, crashed: boolean): Segment | undefined {
  const start = lines.find((line) => parseFrameHeader(line)?.kind === FrameKind.start);
  if (!start) return undefined;
  const startedAt = (JSON.parse(start.slice(parseFrameHeader(start)!.payloadAt)) as { startedAt: number }).startedAt;
  let lastAt = startedAt;
  const body: string[] = [];
  for (const line of lines) {
    const h = parseFrameHeader(line)!;
    if (h.kind === FrameKind.start || h.kind === FrameKind.end || h.kind === FrameKind.leave) continue;
    body.push(line);
    lastAt = Math.max(lastAt, startedAt + h.t);
  }
  if (body.length === 0) return undefined;
  const marker = crashed ? [frame(id, FrameKind.recovered, 0, "", "0")] : [];
  return { recordingId: id, key, lastAt, text: [start, ...marker, ...body].join("\n") };
}

/**
 * `<pid namespace>-<pid>-<instance>.journal`: the pid says whether the owner
 * is alive only when read from inside the same PID namespace.
 */
export async function journalName(instanceId: string): Promise<string> {
  return `${await pidNamespace()}-${await currentPid()}-${instanceId}.journal`;
}

let namespace: Promise<string> | undefined;
function pidNamespace(): Promise<string> {
  namespace ??= readlink("/proc/self/ns/pid").then(
    (link) => /\[(\d+)\]/.exec(link)?.[1] ?? "x",
    () => "x", // no /proc (macOS, Windows) or no permission: liveness by heartbeat only
  );
  return namespace;
}

/** A compaction its instance died in the middle of: the journal it was made from still holds every frame. */

async function isOrphan(name: string, path: string): Promise<boolean> {
  if (name.startsWith(RELEASED)) return true;
  const [ns, pidText] = name.split("-");
  const touched = await stat(path).then((s) => s.mtimeMs, () => Date.now());
  if (Date.now() - touched > STALE_JOURNAL_MS) return true;
  const pid = Number(pidText);
  if (ns === "x" || ns !== (await pidNamespace()) || !Number.isInteger(pid) || pid <= 0) return false;
  return !(await processAlive(pid));
}
