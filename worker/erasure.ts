/**
 * The drain engine's part in erasure (storage/erasure.ts has the procedure):
 * every instance reads the store's erasure marks every ERASURE_POLL_MS, and
 * for each mark it has not seen (or the API hands it at once):
 *  - forgets the covered recordings it holds, and from then on drops their
 *    frames as they leave the ring — before the journal, so they never reach
 *    the disk again — and when a journal of a dead instance is recovered;
 *  - waits for store writes under way, then rewrites its journal without them;
 *  - deletes from the store what it wrote of them since it last read the marks
 *    (it could not know yet: the eraser's search may have run before);
 *  - recovers the journals of instances that are gone (released, crashed),
 *    which drops what the marks cover and removes the files.
 * Finalization (engine.ts) deletes a covered recording instead of saving it.
 *
 * Invariants, and why:
 * - A write is forgotten only after a read of the marks that started after it
 *   completed found nothing new: a mark added later than that read is
 *   searched for by its eraser after it was added, so the eraser finds the write.
 * - Applying a mark is idempotent and runs once per mark; one that fails (the
 *   store went down) is forgotten and applied again at the next read.
 * - With no marks the ring's frames pass untouched: the drain loop pays one
 *   size check per batch. With marks, one header split and one map lookup per
 *   frame; start frames are parsed, and mounts only while a mark matches
 *   `session()` data. A mount that matches erases its whole session, as a new
 *   mark this instance adds (and searches the store for).
 */

import { FrameKind, parseFrameHeader } from "../format/mod.ts";
import { covers, type Erased, eraseEverywhere, type ErasureSubject, mountSession, sessionErasure, startMeta, subjectOfFrames } from "../storage/erasure.ts";
import type { Erasure, RecordingStorage, Segment } from "../storage/mod.ts";
import { type Drainer, JOURNAL_ID } from "./drain.ts";

/** How often every instance reads the erasure marks: what it holds of an erased recording goes within about this. */
export const ERASURE_POLL_MS = 1_000;
/**
 * While reading the marks fails (the store is down) the reads back off, doubling up to this. A
 * read a second would add a failed connection a second to the engine's own retries, and database
 * clients back off on those (postgres.js waits 3^failures / 100 s, up to 20 s, before it connects
 * again): the store, once back, would take that much longer to get the recordings that waited.
 */
const MAX_POLL_BACKOFF_MS = 30_000;
/** Store writes kept for undoing, at most (only reached while reading the marks keeps failing). */
const MAX_WRITES = 100_000;
/** Frame verdicts cached, at most. */
const MAX_VERDICTS = 100_000;

/** What the engine lends this part. */
export interface ErasureHost {
  storage: RecordingStorage;
  drainer: Drainer;
  /** Resolves when no store work is under way. */
  settled(): Promise<void>;
  /** Rewrites this instance's journal to hold only what the drainer holds. */
  compactJournal(): void;
  /** Recovers the journals of instances that are gone, and removes what they left. */
  scrubJournals(): Promise<void>;
  warn(message: string): void;
}

interface Write {
  id: string;
  /** Whose: the recording's start frame (parsed only when a mark is applied), or what is known of it. */
  start: string | Known;
  /** When the write completed. */
  at: number;
}

type Known = { sessionKey?: string; startedAt?: number } | undefined;

/** What a start frame line says of its recording's session and start. */
function knownOf(startLine: string | undefined): Known {
  const h = startLine === undefined ? undefined : parseFrameHeader(startLine);
  return h?.kind === FrameKind.start ? startMeta(startLine!.slice(h.payloadAt)) : undefined;
}

export class EngineErasures {
  private readonly marks = new Map<string, Erasure>();
  /** Marks by the one recording they name; the others (sessions, session data, everything) in a list. */
  private byRecording = new Map<string, Erasure>();
  private others: Erasure[] = [];
  private bySessionData = false;
  private readonly applied = new Map<string, Promise<Erased>>();
  /** Recordings known to be erased, until when their frames are dropped. */
  private readonly erased = new Map<string, number>();
  /** Recordings known not to be covered (reset whenever the marks change). */
  private clear = new Set<string>();
  private writes: Write[] = [];
  private polling?: Promise<void>;
  /** Reads of the marks that failed in a row; while any did, the next waits until `retryAt`. */
  private failures = 0;
  private retryAt = 0;
  /** The marks were read at least once: journals of other instances may be delivered. */
  loaded = false;

  constructor(private readonly host: ErasureHost) {}

  /** Reads the marks and applies the new ones; one read at a time. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const started = Date.now();
    if (started < this.retryAt) return;
    if (typeof this.host.storage.listErasures !== "function") {
      // A backend written before erasure marks: journals are still recovered, erasure reaches only the instance asked.
      if (!this.loaded) this.host.warn(`storage ${this.host.storage.name} has no listErasures(): an erasure reaches only the instance it was asked of; implement addErasure and listErasures (storage/types.ts, checked by hono-replay/conformance)`);
      this.loaded = true;
      return;
    }
    try {
      const marks = await this.host.storage.listErasures();
      this.expire(started);
      const fresh = marks.filter((mark) => !this.applied.has(mark.id));
      // All of them filter frames before any is applied: applying one recovers journals, which the others must filter too.
      for (const mark of fresh) this.marks.set(mark.id, mark);
      if (fresh.length) this.reindex();
      for (const mark of fresh) {
        const found = await this.apply(mark);
        if (mark.session !== undefined) for (const key of found.sessions) await this.eraseSession(mark, key);
      }
      this.loaded = true;
      this.failures = 0;
      this.retryAt = 0;
      this.writes = this.writes.filter((w) => w.at >= started);
    } catch (error) {
      if (this.failures++ === 0) this.host.warn(`reading or applying the erasure marks failed (${(error as Error)?.message ?? error}); tried again, less often while it fails (at most ${MAX_POLL_BACKOFF_MS / 1000} s apart)`);
      this.retryAt = Date.now() + Math.min(MAX_POLL_BACKOFF_MS, ERASURE_POLL_MS * 2 ** this.failures);
    }
  }

  /** Resolves once a read of the marks under way is done (shutdown waits for it before the store closes). */
  async idle(): Promise<void> {
    await this.polling;
  }

  /**
   * Applies one mark here (see the module's doc); once per mark. One that
   * fails keeps filtering frames, and is applied again at the next read.
   */
  apply(e: Erasure): Promise<Erased> {
    let running = this.applied.get(e.id);
    if (!running) {
      running = this.applyOnce(e).catch((error) => {
        this.applied.delete(e.id);
        throw error;
      });
      this.applied.set(e.id, running);
    }
    return running;
  }

  private async applyOnce(e: Erasure): Promise<Erased> {
    this.marks.set(e.id, e);
    this.reindex();
    const recordings = new Set<string>();
    const sessions = new Set<string>();
    const take = (s: ErasureSubject) => {
      recordings.add(s.id);
      if (s.sessionKey) sessions.add(s.sessionKey);
      this.erased.set(s.id, Math.max(this.erased.get(s.id) ?? 0, e.until));
    };
    for (const rec of [...this.host.drainer.all()]) {
      const subject: ErasureSubject = { id: rec.id, startedAt: rec.startedAt, sessionKey: knownOf(rec.startLine)?.sessionKey };
      if (e.session !== undefined) subject.session = subjectOfFrames(rec.id, rec.unsent).session;
      if (!covers(e, subject)) continue;
      this.host.drainer.forget(rec.id);
      take(subject);
    }
    // Writes under way land first (and journal their frames); then the journal is rewritten without them.
    await this.host.settled();
    this.host.compactJournal();
    const undone = new Set<string>();
    for (const write of this.writes) {
      if (undone.has(write.id)) continue; // a recording written many times is deleted once
      const known = typeof write.start === "string" ? knownOf(write.start) : write.start;
      const subject = { id: write.id, sessionKey: known?.sessionKey, startedAt: known?.startedAt };
      if (!covers(e, subject)) continue;
      await this.host.storage.delete(write.id);
      undone.add(write.id);
      take(subject);
    }
    await this.host.scrubJournals();
    return { recordings: [...recordings], sessions: [...sessions] };
  }

  /** A mount matched `mark` by its session data: its whole session is erased, as a mark of its own. */
  private eraseSession(mark: Erasure, sessionKey: string): Promise<void> {
    return eraseEverywhere(this.host.storage, sessionErasure(mark, sessionKey), (e) => this.apply(e)).then(() => {});
  }

  /** Whether a mark covers this recording, by what its frames say (finalization asks before it saves). */
  isErased(id: string, meta: Known, columns?: { kinds: string; payloads: string[] }): boolean {
    if (this.erased.has(id)) return true;
    const subject: ErasureSubject = { id, sessionKey: meta?.sessionKey, startedAt: meta?.startedAt };
    const mount = this.bySessionData && columns ? columns.kinds.indexOf(FrameKind.mount) : -1;
    if (mount >= 0) subject.session = mountSession(columns!.payloads[mount]);
    return this.covering(subject) !== undefined;
  }

  /**
   * A store write of recording `id` completed: kept until a read of the marks
   * shows no mark covers it. `start` is its start frame line (kept as it is:
   * parsed only if a mark comes), or what is known of it.
   */
  wrote(id: string, start: string | Known): void {
    this.writes.push({ id, start, at: Date.now() });
    if (this.writes.length > MAX_WRITES) this.writes.splice(0, this.writes.length - MAX_WRITES);
  }

  /** A segment was written: its first line is its start frame. */
  wroteSegment(segment: Segment): void {
    const end = segment.text.indexOf("\n");
    this.wrote(segment.recordingId, end < 0 ? segment.text : segment.text.slice(0, end));
  }

  /** The frames of `lines` no mark covers: a batch from the ring, or a journal being read. */
  filter(lines: string[]): string[] {
    if (this.marks.size === 0 && this.erased.size === 0) return lines;
    const starts = new Map<string, Known>();
    let matched: Set<string> | undefined;
    const out: string[] = [];
    for (const line of lines) {
      const tab = line.indexOf("\t");
      const id = line.slice(0, tab);
      if (tab <= 0 || id === JOURNAL_ID) {
        out.push(line);
        continue;
      }
      if (this.erased.has(id)) continue;
      const kind = line.charAt(tab + 1);
      if (kind === FrameKind.start) {
        const h = parseFrameHeader(line);
        const meta = h && startMeta(line.slice(h.payloadAt));
        starts.set(id, { sessionKey: meta?.sessionKey, startedAt: meta?.startedAt });
        this.clear.delete(id);
      } else if (kind === FrameKind.mount && this.bySessionData && this.mountMatches(id, line, starts.get(id))) {
        (matched ??= new Set()).add(id);
        continue;
      }
      if (!this.dropsFrameOf(id, starts.get(id))) out.push(line);
    }
    // A matching mount's start frame came before it: it goes too.
    const gone = matched;
    return gone ? out.filter((line) => !gone.has(line.slice(0, line.indexOf("\t")))) : out;
  }

  private mountMatches(id: string, line: string, known: Known): boolean {
    const h = parseFrameHeader(line);
    const meta = known ?? knownOf(this.host.drainer.get(id)?.startLine);
    const subject = { id, sessionKey: meta?.sessionKey, startedAt: meta?.startedAt, session: h && mountSession(line.slice(h.payloadAt)) };
    const mark = this.covering(subject);
    if (!mark) return false;
    this.erased.set(id, mark.until);
    if (mark.session !== undefined && subject.sessionKey) {
      const key = subject.sessionKey;
      void this.eraseSession(mark, key).catch((error) =>
        this.host.warn(`erasing session ${key}, whose session data matched erasure ${mark.id}, failed (${(error as Error)?.message ?? error}); erase it again: replay.store.eraseSession(${JSON.stringify(key)})`));
    }
    return true;
  }

  private dropsFrameOf(id: string, known: Known): boolean {
    if (this.clear.has(id)) return false;
    const meta = known ?? knownOf(this.host.drainer.get(id)?.startLine);
    const mark = this.covering({ id, sessionKey: meta?.sessionKey, startedAt: meta?.startedAt });
    if (mark) {
      this.erased.set(id, mark.until);
      return true;
    }
    if (this.clear.size >= MAX_VERDICTS) this.clear = new Set();
    this.clear.add(id);
    return false;
  }

  private covering(subject: ErasureSubject): Erasure | undefined {
    const named = this.byRecording.get(subject.id);
    if (named) return named;
    return this.others.find((mark) => covers(mark, subject));
  }

  private reindex(): void {
    this.byRecording = new Map();
    this.others = [];
    for (const mark of this.marks.values()) {
      if (mark.recordingId !== undefined) this.byRecording.set(mark.recordingId, mark);
      else this.others.push(mark);
    }
    this.bySessionData = this.others.some((mark) => mark.session !== undefined);
    this.clear = new Set();
  }

  /** Marks past their `until` are dropped, as the store drops them. */
  private expire(now: number): void {
    for (const [id, until] of this.erased) if (until <= now) this.erased.delete(id);
    const gone = [...this.marks.values()].filter((mark) => mark.until <= now);
    if (gone.length === 0) return;
    for (const mark of gone) {
      this.applied.delete(mark.id);
      this.marks.delete(mark.id);
    }
    this.reindex();
  }
}
