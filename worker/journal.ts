/**
 * An append-only journal of drained frames. The worker writes each batch here
 * before it commits the ring's read position, and marks a recording's frames
 * done once they are in the store, so that a replacement worker (or another
 * instance, after this process was killed) rebuilds exactly the frames that
 * never reached the store — no frame lost, none stored twice. Writes reach the
 * OS on every batch (that survives a killed process); fsync is batched to once
 * a second (that bounds loss on power failure): a write that comes within a
 * second of the last sync is synced by a timer, so the last batch before a
 * quiet spell is not left unsynced. The same timer touches the file every
 * second: a journal nobody touched for a while belongs to an instance that is
 * gone, whatever its pid says (pids are reused, and containers share them).
 *
 * The file is frame lines plus two markers: `~ P <position>` after each batch and
 * `<id> D` when the recording's frames before it are in the store (the marker is
 * followed by the recording's start frame and whatever arrived meanwhile, so
 * what follows a marker always stands alone). It is compacted by rewriting only
 * what is unsent once it grows past `compactBytes`, and at once when an erasure
 * (worker/erasure.ts) must take frames out of it.
 *
 * The directory is private to the app (private_dir.ts): checked, and created
 * 0700, before the journal is opened.
 *
 * A write that fails (a full disk: ENOSPC) never reaches the caller, which is
 * the drain loop: throwing there killed the worker, and its replacement died
 * on the same write (a crash loop). Instead the journal stops appending — the
 * failed write may have left a torn line that a later append would glue onto,
 * turning it into a frame with the wrong payload — and on the next
 * `compactIfLarge` (and then at most every RETRY_MAX_MS) it is rewritten whole
 * from what the engine holds: first aside and renamed in, which is atomic;
 * when the disk cannot hold a second copy, in place (truncate, write), which
 * frees what the done frames took, so the journal never keeps the disk full
 * by itself. Should that fail too, the file is truncated to nothing: a journal
 * that cannot be kept current must claim nothing, or after a crash it would
 * bring back frames the engine has since stored (stored twice). Until a
 * rewrite succeeds, frames are held in the engine's memory only (bounded
 * there) and a crash loses them; `failure` says why.
 *
 * Every other fault is counted (`faultCounts()`, in the engine's stats) and
 * logged through the journal's `Logger` (`Faults`: the 1st, 10th, 100th… of a
 * kind), never swallowed: a sync that fails (on close too) is durability
 * lost, and a journal whose touch fails is taken for orphaned by other
 * instances, which recover it while this one still runs.
 */

import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, futimesSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { frame, FrameKind, parseFrameHeader } from "../format/mod.ts";
import { consoleLogger, Faults, type Logger } from "../logger.ts";
import { JOURNAL_ID } from "./drain.ts";
import { ensurePrivateDir } from "./private_dir.ts";
import { backgroundTimer } from "./runtime.ts";

/** Name prefix of a journal its instance closed while it still held frames: free for any instance to recover. */
export const RELEASED = "released-";

/** Suffix of the file a compaction writes before renaming it over the journal; one left behind is removed by recovery. */
export const COMPACTING = ".compact";

/** After a failed write, the first rewrite is tried at once, then after 250 ms, doubling up to this. */
const RETRY_MAX_MS = 5_000;

export interface JournalReplay {
  /** Frames that never reached the store, in order. */
  frames: string[];
  /** For each recording still held, how many of its frames are in the store (its last done marker). */
  sent: Map<string, number>;
  /** The ring position the last journaled batch ended at. */
  position?: number;
}

export class Journal {
  private fd: number;
  private lastSync = 0;
  private bytes: number;
  private compactedBytes = 0;
  /** Written since the last fdatasync. */
  private unsynced = false;
  private readonly stopTimer: () => void;
  /** Set while the journal cannot be written: no appends until a rewrite succeeds. */
  private failed?: { reason: string; retryAt: number; retries: number };
  /** Writes that failed, and rewrites that failed after them. */
  failures = 0;
  /** Rewrites done in place because the aside copy could not be written (a disk too full for two copies). */
  inPlaceRewrites = 0;
  private readonly faults: Faults;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly syncIntervalMs = 1000,
    private readonly compactBytes = 16 * 1024 * 1024,
    private readonly logger: Logger = consoleLogger,
  ) {
    this.faults = new Faults(logger);
    // Owner-only: the journal holds what users typed (as storage/file.ts does).
    ensurePrivateDir(dirname(path));
    this.fd = openSync(path, "a", 0o600);
    this.bytes = fstatSync(this.fd).size;
    this.stopTimer = backgroundTimer(() => this.tick(), syncIntervalMs, true);
  }

  /** Syncs what the last writes left unsynced, and marks the journal as in use. */
  tick(): void {
    if (this.closed) return;
    if (this.unsynced && !this.failed) {
      try {
        this.sync();
      } catch (error) {
        this.fail(error); // durability: warned, counted in failures, and the journal is rewritten once it can be
      }
    }
    try {
      const now = new Date();
      futimesSync(this.fd, now, now);
    } catch (error) {
      this.faults.report("journal touch", error, () => `touching the crash journal ${this.path} failed: other instances take a journal nobody touches for orphaned, and would recover it while this one runs`);
    }
  }

  /** Faults handled here, by kind: failed writes, in-place rewrites, failed touches and closes. */
  faultCounts(): Record<string, number> {
    const counts: Record<string, number> = { ...this.faults.all() };
    if (this.failures) counts["journal write"] = this.failures;
    if (this.inPlaceRewrites) counts["journal rewritten in place"] = this.inPlaceRewrites;
    return counts;
  }

  /** Reads a journal file; a torn last line (a write cut by a crash) is ignored. */
  static read(path: string): JournalReplay {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return { frames: [], sent: new Map() };
    }
    const lines = text.split("\n");
    lines.pop(); // after the last "\n": empty, or a torn write
    const kept: (string | undefined)[] = [];
    const linesOf = new Map<string, number[]>();
    const sent = new Map<string, number>();
    let position: number | undefined;
    for (const line of lines) {
      const h = parseFrameHeader(line);
      if (!h) continue;
      if (h.id === JOURNAL_ID) {
        if (h.kind === FrameKind.position) position = h.t;
      } else if (h.kind === FrameKind.done) {
        for (const i of linesOf.get(h.id) ?? []) kept[i] = undefined;
        linesOf.delete(h.id);
        if (h.label) sent.set(h.id, Number(h.label));
        else sent.delete(h.id);
      } else {
        let of = linesOf.get(h.id);
        if (!of) linesOf.set(h.id, (of = []));
        of.push(kept.length);
        kept.push(line);
      }
    }
    return { frames: kept.filter((line): line is string => line !== undefined), sent, position };
  }

  append(frames: string[], ringPosition: number): void {
    this.write(batchText(frames, ringPosition));
  }

  /**
   * The recording's frames so far are in the store (`sentFrames` of them in
   * all: where this instance's segment keys of it stand, also once it is
   * finished here), or, with no `keep`, it is finished; `keep` is what must stand after
   * the marker: its start frame and the frames that arrived while the segment
   * was being written.
   */
  markDone(id: string, keep: string[] = [], sentFrames?: number): void {
    const label = sentFrames === undefined ? "" : String(sentFrames);
    this.write(frame(id, FrameKind.done, 0, label, "0") + "\n" + keep.map((line) => line + "\n").join(""));
  }

  /** Why the journal cannot be written now; undefined while it can. */
  get failure(): string | undefined {
    return this.failed?.reason;
  }

  /**
   * Rewrites the journal to hold only `active` frames once it is large, or,
   * after a failed write, when the next retry is due (`now` forces one: at
   * shutdown). Never throws.
   */
  compactIfLarge(active: () => Iterable<string>, ringPosition: number, now = false): void {
    if (this.failed) {
      if (now || Date.now() >= this.failed.retryAt) this.rewrite(active, ringPosition);
      return;
    }
    // Past the threshold and at least twice what the last compaction left: when the
    // active recordings alone exceed the threshold, compacting on every batch would
    // rewrite the whole journal each time.
    if (this.bytes < Math.max(this.compactBytes, 2 * this.compactedBytes)) return;
    this.rewrite(active, ringPosition);
  }

  /** Rewrites the journal to hold only `active` frames now (an erasure must take frames out of it). Never throws. */
  compact(active: () => Iterable<string>, ringPosition: number): void {
    this.rewrite(active, ringPosition);
  }

  /** Aside and renamed in; in place when that fails; emptied when both fail. */
  private rewrite(active: () => Iterable<string>, ringPosition: number): void {
    const temp = this.path + COMPACTING;
    let size: number;
    try {
      size = writeLines(temp, active(), ringPosition);
      renameSync(temp, this.path);
      const fd = openSync(this.path, "a", 0o600);
      closeSync(this.fd);
      this.fd = fd;
    } catch {
      // Counted, not warned: the disk cannot hold a second copy, and the in-place rewrite below is the remedy (it warns if it fails too).
      this.inPlaceRewrites++;
      try {
        rmSync(temp, { force: true });
        // What the done frames took is freed by truncating first.
        ftruncateSync(this.fd, 0);
        size = writeLines(this.fd, active(), ringPosition);
      } catch (inPlace) {
        return this.fail(inPlace); // warned, counted in failures
      }
    }
    this.bytes = size;
    this.compactedBytes = size;
    this.unsynced = false;
    if (this.failed) this.logger.warn(`the crash journal ${this.path} is written again (it could not be for ${this.failed.retries} retries: ${this.failed.reason})`);
    this.failed = undefined;
  }

  /** A write failed: stop appending, claim nothing that may go stale, retry later. */
  private fail(error: unknown): void {
    this.failures++;
    const reason = describe(error);
    const retries = this.failed ? this.failed.retries + 1 : 0;
    if (!this.failed) {
      this.logger.warn(`the crash journal ${this.path} cannot be written (${reason}): frames are held in memory until it can (a crash meanwhile loses them); free space in ${dirname(this.path)} or point the journal option elsewhere`);
    }
    this.failed = { reason, retries, retryAt: Date.now() + Math.min(RETRY_MAX_MS, 250 * 2 ** retries) };
    try {
      ftruncateSync(this.fd, 0);
      this.bytes = 0;
    } catch (error) {
      this.logger.warn(`the crash journal ${this.path} could not be emptied either (${describe(error)}); after a crash it may bring back frames already stored`);
    }
  }

  /** Syncs and closes the journal (once; later calls only remove it, with `remove`). A failed sync is reported: its last frames may not survive a power failure. */
  close(remove = false): void {
    if (!this.closed) {
      this.closed = true;
      this.stopTimer();
      try {
        fdatasyncSync(this.fd);
      } catch (error) {
        this.faults.report("journal sync on close", error, () => `syncing the crash journal ${this.path} on close failed: its last second of frames may not survive a power failure`);
      }
      try {
        closeSync(this.fd);
      } catch (error) {
        this.faults.report("journal close", error, () => `closing the crash journal ${this.path} failed`);
      }
    }
    if (remove) rmSync(this.path, { force: true });
  }

  /**
   * Closes a journal that still holds frames the store would not take, renamed
   * `released-…` so that the next instance recovers it at once instead of
   * waiting for it to go stale (its owner's pid may well be alive).
   */
  release(): void {
    this.close();
    renameSync(this.path, join(dirname(this.path), RELEASED + basename(this.path)));
  }

  /** Appends, unless the journal failed: then the next rewrite covers what is skipped here. */
  private write(text: string): void {
    if (this.failed) return;
    try {
      this.bytes += writeAll(this.fd, text);
      if (Date.now() - this.lastSync >= this.syncIntervalMs) this.sync();
      else this.unsynced = true;
    } catch (error) {
      this.fail(error);
    }
  }

  private sync(): void {
    fdatasyncSync(this.fd);
    this.lastSync = Date.now();
    this.unsynced = false;
  }
}

/** An error as people search for it: with its code (Deno's messages leave "ENOSPC" out). */
export function describe(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  const code = (error as NodeJS.ErrnoException)?.code;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

function positionLine(position: number): string {
  return frame(JOURNAL_ID, FrameKind.position, position >>> 0, "", "0");
}

/** A drained batch as the journal holds it: its frames, then the ring position after them. */
export function batchText(frames: string[], ringPosition: number): string {
  // An erasure can leave a batch with no frames: then only the position is written.
  return (frames.length ? frames.join("\n") + "\n" : "") + positionLine(ringPosition) + "\n";
}

const encoder = new TextEncoder();

/**
 * Writes `lines` and a position marker, in chunks of about a MiB, and syncs;
 * into `target`, a new file (closed after), or an open descriptor. Returns the bytes written.
 */
function writeLines(target: string | number, lines: Iterable<string>, ringPosition: number): number {
  const fd = typeof target === "number" ? target : openSync(target, "w", 0o600);
  try {
    let size = 0;
    let chunk: string[] = [];
    let chunkChars = 0;
    for (const line of lines) {
      chunk.push(line + "\n");
      chunkChars += line.length + 1;
      if (chunkChars >= 1 << 20) {
        size += writeAll(fd, chunk.join(""));
        chunk = [];
        chunkChars = 0;
      }
    }
    chunk.push(positionLine(ringPosition) + "\n");
    size += writeAll(fd, chunk.join(""));
    fdatasyncSync(fd);
    return size;
  } finally {
    if (typeof target !== "number") closeSync(fd);
  }
}

/** writeSync until every byte is written: a short write (a full disk) must not tear a batch silently. */
export function writeAll(fd: number, text: string): number {
  const bytes = encoder.encode(text);
  let done = 0;
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw new Error("hono-replay: journal write made no progress");
    done += n;
  }
  return bytes.length;
}
