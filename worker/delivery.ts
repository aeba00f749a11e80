/**
 * The drain engine's store work, per recording: writing unsent frames as
 * segments, finalizing, and backing off while the store fails.
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
 * Invariants, and why:
 * - One piece of store work at a time per recording (`schedule`), at most
 *   MAX_IN_FLIGHT at once: a flood must not start thousands of writes at once
 *   and starve the loop (and its heartbeat).
 * - Store faults never end the loop: store work fails into a retry with
 *   backoff (at most MAX_RETRY_MS apart), warned once per outage and counted
 *   in `counts.failures`.
 * - Near the engine's bound on held frames, recordings nobody interacted with
 *   yet are written too, so a flood of page views cannot hold the loop up
 *   while the store works.
 * - Erasure marks (erasure.ts) decide: a recording they cover is deleted
 *   instead of finalized.
 */

import { assembleSegments, decodeRecordingColumns, encodeRecordingFile, RecordingNotFoundError } from "../format/mod.ts";
import type { Logger } from "../logger.ts";
import type { RecordingStorage, Segment } from "../storage/mod.ts";
import type { Active, Drainer } from "./drain.ts";
import type { EngineOptions } from "./engine_types.ts";
import type { EngineErasures } from "./erasure.ts";
import type { Journal } from "./journal.ts";
import { zlibDeflate } from "./zlib.ts";

/** How often the loop looks for segments that are due. */
const DUE_CHECK_MS = 50;
/** Store operations under way at once, at most (flush and shutdown wait for all). */
const MAX_IN_FLIGHT = 32;
/** How long a finalization may hold a recording's lease; one that takes longer (a dead instance) is taken over. */
const CLAIM_TTL_MS = 60_000;
/** Longest wait between store retries while it is down: delivery resumes within this once it is back. */
const MAX_RETRY_MS = 5_000;

/** What the engine lends its store work. */
export interface DeliveryHost {
  storage: RecordingStorage;
  drainer: Drainer;
  erasures: EngineErasures;
  options: EngineOptions;
  logger: Logger;
  /** Segment keys start with this: see `Engine.segmentPrefix`. */
  segmentPrefix: string;
  /** This instance's journal, once it is open. */
  journal(): Journal | undefined;
  /** Whether the engine holds its bound of frames for the store. */
  full(): boolean;
}

type Work = { id: string; work: () => Promise<void> };

/** An ending recording's last frames, handed to its finalization from memory (see `Delivery.send`). */
interface LastFrames {
  segment: Segment;
  taken(): void;
}

export class Delivery {
  readonly counts = { finalized: 0, discarded: 0, segments: 0, persisted: 0, failures: 0, recovered: 0 };
  /** Store work under way, by recording: one at a time per recording. */
  private readonly working = new Map<string, Promise<void>>();
  /** Recordings this instance holds nothing of that an end or leave asked to finalize: `since` of the leave, undefined for an end. */
  private readonly toFinalize = new Map<string, number | undefined>();
  /** While the store fails: no new attempt before this time. */
  private retryAt = 0;
  private lastDueCheck = 0;
  private failuresInARow = 0;
  private warnedStore = false;

  constructor(private readonly host: DeliveryHost) {}

  /** Whether the store failed since it last took something: what waits then waits for it. */
  get failing(): boolean {
    return this.failuresInARow > 0;
  }

  /**
   * Starts writing the segments that are due, finishing what ends, and the
   * idle safety net. Looks at most every DUE_CHECK_MS.
   */
  sendDue(now: number): void {
    if (now < this.retryAt || now - this.lastDueCheck < DUE_CHECK_MS) return;
    this.lastDueCheck = now;
    for (const { id, work } of this.dueWork(now, false)) {
      // Bounded: a flood must not start thousands of writes at once and starve the loop (and its heartbeat).
      if (this.working.size >= MAX_IN_FLIGHT) break;
      if (!this.working.has(id)) void this.schedule(id, work);
    }
  }

  /**
   * Writes every unsent frame now, MAX_IN_FLIGHT store operations at a time.
   * A job for a recording whose store work is under way runs after it, not
   * instead: that work looked at the recording before these frames came in
   * (close() left frames unsent, unreported, when a finalization was under way).
   */
  async sendAll(): Promise<void> {
    const jobs = this.dueWork(Date.now(), true);
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const { id, work } = jobs[next++];
        // Settled jobs never reject (schedule catches), and each job looks at the recording when it starts.
        for (let busy = this.working.get(id); busy; busy = this.working.get(id)) await busy;
        await this.schedule(id, work);
      }
    };
    await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, lane));
    await this.settled();
  }

  /** Resolves when no store work is under way. */
  async settled(): Promise<void> {
    while (this.working.size) await Promise.all([...this.working.values()]);
  }

  /** Store work that is due (all of it with `all`): ending recordings, segments full or old enough, finalizations asked for. */
  private dueWork(now: number, all: boolean): Work[] {
    const { drainer, options } = this.host;
    for (const rec of drainer.idle(now, options.idleTimeoutMs)) rec.ending = { since: rec.lastAt };
    const out = drainer.due(now, all || this.host.full()).map((rec) => ({ id: rec.id, work: () => this.sendOrFinish(rec.id) }));
    for (const id of this.toFinalize.keys()) out.push({ id, work: () => this.finalizeAsked(id) });
    return out;
  }

  /** The recording as it is when its job starts (work before it may have forgotten it, or it came back since). */
  private sendOrFinish(id: string): Promise<void> {
    const rec = this.host.drainer.get(id);
    if (!rec) return Promise.resolve();
    return rec.ending ? this.finish(id) : this.send(rec);
  }

  /** A finalization an end or leave asked for, as asked when it starts: an end that came while it waited outranks the leave. */
  private finalizeAsked(id: string): Promise<void> {
    if (!this.toFinalize.has(id)) return Promise.resolve();
    const since = this.toFinalize.get(id);
    this.toFinalize.delete(id);
    return this.finalize(id, since);
  }

  /** Runs store work for one recording, unless some is under way for it: then answers that (see `sendAll`). */
  schedule(id: string, work: () => Promise<void>): Promise<void> {
    const previous = this.working.get(id);
    if (previous) return previous;
    const job = work().catch((error) => this.storeFailed(error, `saving recording ${id}`)).finally(() => {
      if (this.working.get(id) === job) this.working.delete(id);
    });
    this.working.set(id, job);
    return job;
  }

  /**
   * Writes the recording's unsent frames as one segment. An ending recording's
   * last frames go into its finalization from memory instead (`merge`'s
   * `last`), rather than into a segment that the finalization reads back and
   * deletes at once (a file store: a write, a rename, a read and an unlink).
   * They are written as a segment only when that finalization leaves the
   * recording for later.
   */
  private async send(rec: Active): Promise<void> {
    if (rec.unsent.length === 0) return;
    if (rec.keysUnknown) await this.continueKeys(rec);
    const cutAt = Date.now();
    const { segment, frames } = this.host.drainer.segmentOf(rec, this.host.segmentPrefix);
    const finalizing = rec.ending !== undefined;
    let claimed = false;
    if (finalizing) {
      let taken = false;
      claimed = await this.merge(rec.id, rec.ending!.since, false, {
        segment,
        taken: () => {
          taken = true;
          this.host.drainer.sent(rec, frames, cutAt);
          this.finished(rec);
        },
      });
      if (taken) return;
    }
    await this.host.storage.appendSegment(segment);
    this.host.erasures.wrote(rec.id, rec.startLine);
    this.host.drainer.sent(rec, frames, cutAt);
    this.counts.segments++;
    this.storeRecovered();
    // Finalized with these frames and left for later, nothing new since: the same store would say the same.
    if (rec.ending && claimed && rec.unsent.length === 0) return this.finished(rec);
    this.host.journal()?.markDone(rec.id, [rec.startLine, ...rec.unsent], rec.sentFrames);
    if (!rec.ending) return;
    // The lease was another instance's (or frames came in): tried again now that they are in the store, as ever.
    await this.finish(rec.id);
  }

  /**
   * After a finalization: forgets the recording unless frames came in
   * meanwhile (the session came back here: they stay, and are sent as ever).
   * The journal keeps what is still unsent, with the count.
   */
  private finished(rec: Active): void {
    if (rec.unsent.length === 0 && rec.ending) {
      this.host.drainer.forget(rec.id);
      // With its count: should it come back here and this instance die, recovery keys on from it.
      this.host.journal()?.markDone(rec.id, [], rec.sentFrames);
    } else {
      this.host.journal()?.markDone(rec.id, [rec.startLine, ...rec.unsent], rec.sentFrames);
    }
  }

  /**
   * Where this instance's keys of a recording it serves again stop in the
   * store (Active.keysUnknown): its next segment goes after them, instead of
   * replacing the first of them under the same key.
   */
  private async continueKeys(rec: Active): Promise<void> {
    const own = this.host.segmentPrefix + "-";
    for (const segment of await this.host.storage.loadSegments(rec.id)) {
      if (!segment.key.startsWith(own)) continue;
      const from = Number(segment.key.slice(own.length));
      // A segment is its start frame, then its frames, one a line.
      const frames = segment.text.split("\n").slice(1);
      // These very frames (written, then the worker died before its journal said so): replaced, as ever.
      if (frames.every((line, i) => line === rec.unsent[i])) continue;
      if (Number.isSafeInteger(from)) rec.sentFrames = Math.max(rec.sentFrames, from + frames.length);
    }
    rec.keysUnknown = false;
  }

  /**
   * An end or leave frame arrived for `id`: its work starts with the next due
   * check, within MAX_IN_FLIGHT like any other (thousands of recordings ending
   * at once, as on close(), started thousands of finalizations at once).
   */
  ending(id: string, since: number | undefined): void {
    this.lastDueCheck = 0;
    if (this.host.drainer.get(id)) return; // ending: due
    // A recording this instance holds nothing of (it lives on another instance). An end outranks a leave.
    if (!(this.toFinalize.has(id) && this.toFinalize.get(id) === undefined)) this.toFinalize.set(id, since);
  }

  /** Sends what is left of an ending recording, then finalizes it and forgets it. */
  private async finish(id: string): Promise<void> {
    const { drainer, storage } = this.host;
    const rec = drainer.get(id);
    if (!rec?.ending) return;
    if (rec.interactions === 0 && rec.sentFrames === 0 && (await storage.loadSegments(id)).length === 0) {
      // Nobody interacted, here or (the store says) anywhere: discarded without a write.
      this.counts.discarded++;
      drainer.forget(id);
      this.host.journal()?.markDone(id);
      return;
    }
    if (rec.unsent.length) return this.send(rec);
    await this.finalize(id, rec.ending.since);
    this.finished(rec);
  }

  /**
   * Merges the recording's segments into its stored recording, under its lease.
   * With `since`, only if no instance was active after it. `abandoned` (the
   * store sweep: no instance ended or let go of it) marks it recovered.
   */
  async finalize(id: string, since?: number, abandoned = false): Promise<void> {
    await this.merge(id, since, abandoned);
  }

  /**
   * `finalize`, with `last`: this instance's last frames of the recording, not
   * in the store. They take part as one more segment; `taken` is called as
   * soon as they are in the store (saved), or need not be (discarded, erased),
   * before the stored segments are deleted. Not called when the recording is
   * left for later: the caller then appends them as a segment. False when
   * another instance holds the lease.
   */
  private async merge(id: string, since?: number, abandoned = false, last?: LastFrames): Promise<boolean> {
    const { storage, options } = this.host;
    const owner = options.instanceId;
    if (!(await storage.claim(id, owner, CLAIM_TTL_MS))) return false; // another instance is at it
    try {
      const stored = await storage.loadSegments(id);
      // A stored copy of the last frames' key (an append whose answer was lost) is replaced by them, as an append would.
      const segments = last ? [...stored.filter((s) => s.key !== last.segment.key), last.segment] : stored;
      if (segments.length === 0) return true;
      if (since !== undefined && segments.some((s) => s.lastAt > since)) return true;
      const base = await this.loadBase(id);
      const assembled = assembleSegments(id, segments, base);
      // Nothing to replay from yet (no mount, no snapshot): wait for the rest, unless it is long overdue.
      if (!assembled && segments.some((s) => s.lastAt > Date.now() - 2 * options.idleTimeoutMs)) return true;
      // Nobody ended or let go of it: its instances vanished (killed, scaled away). Not ended normally.
      if (assembled && abandoned) assembled.meta.recovered = true;
      const meta = assembled?.meta ?? base?.meta;
      if (this.host.erasures.isErased(id, meta, assembled?.columns ?? base?.columns)) {
        await storage.delete(id); // erased: what reached the store of it goes, instead of coming back
        last?.taken();
        this.storeRecovered();
        return true;
      }
      if (assembled && (base || assembled.interactions > 0)) {
        const bytes = encodeRecordingFile(assembled.meta, assembled.columns, zlibDeflate);
        await storage.save({ ...assembled.meta, sizeBytes: bytes.length }, bytes);
        this.host.erasures.wrote(id, assembled.meta);
        this.counts.persisted++;
        if (!base) this.counts.finalized++;
      } else if (!base) {
        this.counts.discarded++; // nobody did anything
      }
      last?.taken();
      if (stored.length) await storage.deleteSegments(id, stored.map((s) => s.key));
      this.storeRecovered();
      return true;
    } finally {
      await storage.release(id, owner);
    }
  }

  private async loadBase(id: string) {
    try {
      return decodeRecordingColumns(id, await this.host.storage.load(id));
    } catch (error) {
      if (error instanceof RecordingNotFoundError) return undefined;
      throw error;
    }
  }

  /** Finalizes recordings whose latest segment is older than the idle timeout, whoever wrote them. */
  async sweepStore(now: number): Promise<void> {
    const cutoff = now - this.host.options.idleTimeoutMs;
    const latest = new Map<string, number>();
    for (const s of await this.host.storage.listSegments()) latest.set(s.recordingId, Math.max(latest.get(s.recordingId) ?? 0, s.lastAt));
    for (const [id, lastAt] of latest) {
      if (lastAt >= cutoff || this.host.drainer.get(id)) continue;
      await this.schedule(id, () => this.finalize(id, cutoff, true));
    }
  }

  storeFailed(error: unknown, what: string): void {
    this.counts.failures++;
    this.failuresInARow++;
    const base = Math.max(50, this.host.options.persistenceRetryDelayMs);
    this.retryAt = Date.now() + Math.min(MAX_RETRY_MS, base * 2 ** Math.min(10, this.failuresInARow - 1));
    if (!this.warnedStore) {
      this.warnedStore = true;
      this.host.logger.warn(`${what} failed (${(error as Error)?.message ?? error}); its frames wait in memory and are retried (further failures are counted in stats().saveFailures; past overflowLimit characters, frames are dropped and counted in engine.dropped)`);
    }
  }

  private storeRecovered(): void {
    if (this.failuresInARow === 0) return;
    this.failuresInARow = 0;
    this.retryAt = 0;
    this.warnedStore = false;
  }
}
