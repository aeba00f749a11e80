/**
 * This instance's share of the active recordings, fed frame by frame: for each,
 * its start frame and the frames not yet in the store. Nothing is parsed but
 * headers and start frames, so draining costs about as much as splitting
 * strings. The store is where a recording comes together (several instances
 * may write one); this only holds what has not reached it yet, so memory stays
 * at about a segment per active recording.
 *
 * A segment is due when its frames hold `maxChars` characters or its oldest
 * frame is `maxAgeMs` old: on `kill -9` an instance loses at most that much
 * (less where the journal survives). The size bound is in characters, what a
 * segment costs in memory and in one store write, not in frames: a bound of
 * 256 frames made a 200-keystroke session typed at machine speed (402 frames
 * of deltas, 41,000 characters) write a segment halfway that its
 * finalization read back and deleted at once, a fifth of what the persistence
 * worker cost a request under load (bench 3b). The bound is large (1 Mi by
 * default): segments are meant to go by age, and an app whose every frame is
 * large must not write one a request. With more recordings holding frames than
 * AGED_SEGMENTS_PER_SECOND, each waits longer, so that segments due by age go
 * to the store at about that rate, up to AGE_STRETCH_MAX times `maxAgeMs`
 * (past 250 recordings at the default, the rate grows again) and within the
 * engine's bounds (`SegmentPolicy.stretch`: a quarter of the idle timeout, and
 * not while a quarter of the held-characters bound is used). A segment is a
 * new file, or a new row, in the store: at the pace people type, one a second
 * per recording held a few requests each and was most of what the persistence
 * worker cost (bench 3b). A recording another instance served too (`shared`)
 * is never held back: an instance that lets it go looks in the store for
 * activity after its own, and must find it within `maxAgeMs` as before.
 *
 * The count of frames dropped before the ring (worker/log.ts) can come after
 * its recording was finished here: when the store was down, the engine stopped
 * reading the ring, and the recording ended (idle) before the count got in.
 * The last RECENT recordings finished are remembered, so such a count reopens
 * its recording, which is finalized again with it (merged after what was saved).
 * The same memory keeps segment keys unique when a recording this instance let
 * go of (another instance carried it on) comes back to it: its keys go on from
 * its earlier count; for one forgotten longer ago than RECENT recordings, the
 * store says where this instance's keys of it stop (`keysUnknown`: the
 * delivery reads its segments once, before writing the first).
 */

import { frame, FrameKind, isEventKind, isInteraction, parseFrameHeader, type StartMeta } from "../format/mod.ts";
import type { Segment } from "../storage/mod.ts";

/** The id of the journal's own marker lines. */
export const JOURNAL_ID = "~";

/** Recordings finished here that a late count of dropped frames can still reopen. */
const RECENT = 512;

/** Segments due by age a second, about, at most: past it, each recording's segments wait longer (see the header). */
export const AGED_SEGMENTS_PER_SECOND = 50;
/** The longest wait that stretching makes, in `maxAgeMs`: past it, the rate grows again. */
export const AGE_STRETCH_MAX = 5;

export interface Active {
  id: string;
  /** The start frame (meta): the first line of every segment. */
  startLine: string;
  /** Epoch ms of the mount (from the start frame): frame offsets count from it. */
  startedAt: number;
  /** Frames not yet in the store, in order. */
  unsent: string[];
  /** Their characters, summed: what `Drainer.heldChars` adds up. */
  unsentChars: number;
  /** Wall clock when the oldest unsent frame arrived. */
  unsentSince: number;
  /** Epoch ms of the latest frame (its start plus offset): the recording's last activity. */
  lastAt: number;
  /** Wall clock of the last frame, for the idle safety net. */
  lastSeen: number;
  /**
   * Frames of it this instance has in the store. A segment's key is
   * `segmentKey(prefix, this count before it)`: a replacement worker, or the
   * recovery of this instance's journal (orphans.ts), that sends the same
   * frames again (the instance died between the append and the journal's done
   * marker) writes the same key, which replaces instead of duplicating.
   */
  sentFrames: number;
  /** Set by an end or leave frame: finalize once the unsent frames are in the store. */
  ending?: { since?: number };
  /** User events and navigations seen here: until one comes, the recording may well be discarded. */
  interactions: number;
  /** The request counter (`seq`) of its latest frame here. */
  lastSeq: number;
  /**
   * Another instance served it too, as far as this one can tell: joined here
   * (a resumed start), came back here, or a request counter skipped one. Its
   * segments are never held back past `maxAgeMs` (see the header): another
   * instance letting it go looks in the store for what came after.
   */
  shared: boolean;
  /**
   * Joined here with no count remembered (resumed, and not among the RECENT
   * finished): this instance may have let it go long ago with segments of it
   * still in the store. The delivery looks there before its first segment.
   */
  keysUnknown: boolean;
}

/**
 * The key of the segment that carries a recording's frames on this instance
 * from number `sentFrames` on (counting from 0; `prefix`: the engine's
 * segmentPrefix, the instance id when there is a journal). It names where the
 * frames start, so frames sent again from the journal land under the key they
 * were first sent under.
 */
export function segmentKey(prefix: string, sentFrames: number): string {
  return `${prefix}-${String(sentFrames).padStart(10, "0")}`;
}

export interface DrainerStats {
  frames: number;
  /** Frames for recordings this instance has no start frame of. */
  orphans: number;
}

export interface SegmentPolicy {
  maxChars: number;
  maxAgeMs: number;
  /** Bounds on stretching the age (see the header): at most `maxMs`, and only while fewer than `belowChars` characters are held. */
  stretch?: { maxMs: number; belowChars: number };
}

export class Drainer {
  private readonly active = new Map<string, Active>();
  private readonly finished = new Map<string, Active>();
  readonly stats: DrainerStats = { frames: 0, orphans: 0 };
  /** Characters of unsent frames over all recordings: the memory the engine bounds. */
  heldChars = 0;

  constructor(
    /** Called for an end (`since` undefined) or leave frame. */
    private readonly onEnding: (id: string, since: number | undefined) => void,
    private readonly policy: SegmentPolicy,
  ) {}

  get size(): number {
    return this.active.size;
  }

  get(id: string): Active | undefined {
    return this.active.get(id);
  }

  /** Applies frames in order. `now` is the wall clock they arrived at. */
  ingest(lines: string[], now = Date.now()): void {
    for (const line of lines) this.apply(line, now);
  }

  private apply(line: string, now: number): void {
    const h = parseFrameHeader(line);
    if (!h || h.id === JOURNAL_ID) return;
    this.stats.frames++;
    if (h.kind === FrameKind.start) {
      const existing = this.active.get(h.id);
      if (existing) {
        existing.ending = undefined; // the recording came back to this instance
        existing.shared = true;
        return;
      }
      // Only the start time (and whether this instance joins it) is read: the line itself goes into every segment.
      const { startedAt, resumed } = JSON.parse(line.slice(h.payloadAt)) as StartMeta;
      // A recording this instance let go of while another carried it on comes back: its segments
      // may still be in the store, so the count (and the keys made of it) goes on from there; from
      // 0, the first new segment would replace the first one written before, under the same key.
      const earlier = this.finished.get(h.id);
      if (earlier) this.finished.delete(h.id);
      const sentFrames = earlier?.sentFrames ?? 0;
      const keysUnknown = !earlier && resumed === true;
      this.active.set(h.id, { id: h.id, startLine: line, startedAt, unsent: [], unsentChars: 0, unsentSince: now, lastAt: startedAt, lastSeen: now, sentFrames, interactions: 0, keysUnknown, lastSeq: 0, shared: resumed === true || earlier !== undefined });
      return;
    }
    if (h.kind === FrameKind.end || h.kind === FrameKind.leave) {
      const since = h.kind === FrameKind.leave ? Number(h.label) : undefined;
      const rec = this.active.get(h.id);
      if (rec) rec.ending = { since };
      this.onEnding(h.id, since);
      return;
    }
    const rec = this.active.get(h.id) ?? (h.kind === FrameKind.dropped ? this.reopen(h.id) : undefined);
    if (!rec) {
      this.stats.orphans++;
      return;
    }
    if (rec.unsent.length === 0) rec.unsentSince = now;
    if (rec.lastSeq > 0 && h.seq > rec.lastSeq + 1) rec.shared = true;
    if (h.seq > rec.lastSeq) rec.lastSeq = h.seq;
    rec.unsent.push(line);
    rec.unsentChars += line.length;
    this.heldChars += line.length;
    rec.lastSeen = now;
    // Island changes (islands/) are not requests: they do not count as activity, or a
    // leave would see them as another instance carrying the recording on.
    if (isEventKind(h.kind) && h.kind !== FrameKind.island && h.kind !== FrameKind.islandLoad) rec.lastAt = Math.max(rec.lastAt, rec.startedAt + h.t);
    if (isInteraction(h.kind)) rec.interactions++;
  }

  /**
   * Recordings with work due: ending, or a segment full or old enough (any
   * unsent one with `all`). A recording nobody interacted with yet (a page view,
   * a bot, a flood of cookieless requests) waits: most are discarded at their
   * end without ever touching the store.
   */
  due(now: number, all = false): Active[] {
    const out: Active[] = [];
    const ageMs = all ? 0 : this.segmentAgeMs();
    for (const rec of this.active.values()) {
      if (rec.ending) out.push(rec);
      else if (rec.unsent.length === 0) continue;
      else if (all) out.push(rec);
      else if ((this.dueAt(rec, ageMs) ?? Infinity) <= now) out.push(rec);
    }
    return out;
  }

  /** How old a recording's oldest unsent frame gets before its segment is due: `maxAgeMs`, stretched when many recordings hold frames. */
  segmentAgeMs(): number {
    const { maxAgeMs, stretch } = this.policy;
    // Frames held longer are more memory: near the engine's bound (where everything goes at once), no stretching.
    if (stretch && this.heldChars >= stretch.belowChars) return maxAgeMs;
    let holding = 0;
    for (const rec of this.active.values()) if (holdsFrames(rec)) holding++;
    const stretched = (holding / AGED_SEGMENTS_PER_SECOND) * 1_000;
    return Math.max(maxAgeMs, Math.min(stretched, AGE_STRETCH_MAX * maxAgeMs, stretch?.maxMs ?? Infinity));
  }

  /**
   * Milliseconds until `due` has work (0 when it has some now); undefined when
   * nothing waits for time, only for frames to come.
   */
  nextDueIn(now: number): number | undefined {
    let soonest = Infinity;
    const ageMs = this.segmentAgeMs();
    for (const rec of this.active.values()) soonest = Math.min(soonest, this.dueAt(rec, ageMs) ?? Infinity);
    return soonest === Infinity ? undefined : Math.max(0, soonest - now);
  }

  /** When `rec` has store work due: at once when ending or a full segment, else when its oldest unsent frame is `ageMs` old. */
  private dueAt(rec: Active, ageMs: number): number | undefined {
    if (rec.ending) return -Infinity;
    if (!holdsFrames(rec)) return undefined;
    if (rec.unsentChars >= this.policy.maxChars) return -Infinity;
    return rec.unsentSince + (rec.shared ? this.policy.maxAgeMs : ageMs);
  }

  /** The next segment of `rec`: its start frame and every unsent frame. */
  segmentOf(rec: Active, prefix: string): { segment: Segment; frames: number } {
    const frames = rec.unsent.length;
    return { segment: { recordingId: rec.id, key: segmentKey(prefix, rec.sentFrames), lastAt: rec.lastAt, text: rec.startLine + "\n" + rec.unsent.join("\n") }, frames };
  }

  /**
   * The first `frames` unsent frames are in the store; `cutAt` is the wall
   * clock when their segment was made (`segmentOf`). Frames left over came in
   * while it was written, so they are no older than that: aged from the
   * previous segment's oldest frame instead, they were due at once and every
   * due check under load wrote a segment of a few frames.
   */
  sent(rec: Active, frames: number, cutAt: number): void {
    let chars = 0;
    for (const line of rec.unsent.splice(0, frames)) chars += line.length;
    rec.unsentChars -= chars;
    // Forgotten meanwhile (erased while its store work was under way): forget() took its characters off already.
    if (this.active.get(rec.id) === rec) this.heldChars -= chars;
    rec.sentFrames += frames;
    if (rec.unsent.length) rec.unsentSince = Math.max(rec.unsentSince, cutAt);
  }

  forget(id: string): void {
    const rec = this.active.get(id);
    if (!rec) return;
    this.heldChars -= rec.unsentChars;
    this.active.delete(id);
    this.finished.set(id, rec);
    if (this.finished.size > RECENT) this.finished.delete(this.finished.keys().next().value!);
  }

  /** A recording finished lately, active again and ending (its end came before): undefined if it is not remembered. */
  private reopen(id: string): Active | undefined {
    const rec = this.finished.get(id);
    if (!rec) return undefined;
    this.finished.delete(id);
    this.active.set(id, rec);
    rec.ending = {};
    return rec;
  }

  /** Every recording this instance holds (an erasure looks for what it covers). */
  all(): IterableIterator<Active> {
    return this.active.values();
  }

  /** Recordings whose frames stopped coming without an end (a lost frame): the idle safety net. */
  idle(now: number, idleTimeoutMs: number): Active[] {
    return [...this.active.values()].filter((rec) => !rec.ending && now - rec.lastSeen > idleTimeoutMs);
  }

  /**
   * What a compacted journal must keep: for every recording, how many frames
   * are in the store (a done marker), its start frame and its unsent frames.
   */
  *unsentFrames(): Generator<string> {
    for (const rec of this.active.values()) {
      if (rec.sentFrames) yield frame(rec.id, FrameKind.done, 0, String(rec.sentFrames), "0");
      yield rec.startLine;
      yield* rec.unsent;
    }
  }
}

/** Frames waiting for the store that will go by age: unsent ones, of a recording somebody interacted with (see `due`). */
function holdsFrames(rec: Active): boolean {
  return rec.unsent.length > 0 && rec.interactions > 0;
}
