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
 */

import { closeSync, fdatasyncSync, fstatSync, futimesSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { frame, FrameKind, parseFrameHeader } from "../format/mod.ts";
import { JOURNAL_ID } from "./drain.ts";
import { ensurePrivateDir } from "./private_dir.ts";
import { backgroundTimer } from "./runtime.ts";

/** Name prefix of a journal its instance closed while it still held frames: free for any instance to recover. */
export const RELEASED = "released-";

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

  constructor(
    readonly path: string,
    private readonly syncIntervalMs = 1000,
    private readonly compactBytes = 16 * 1024 * 1024,
  ) {
    // Owner-only: the journal holds what users typed (as storage/file.ts does).
    ensurePrivateDir(dirname(path));
    this.fd = openSync(path, "a", 0o600);
    this.bytes = fstatSync(this.fd).size;
    this.stopTimer = backgroundTimer(() => this.tick(), syncIntervalMs, true);
  }

  /** Syncs what the last writes left unsynced, and marks the journal as in use. */
  tick(): void {
    try {
      if (this.unsynced) this.sync();
      const now = new Date();
      futimesSync(this.fd, now, now);
    } catch { /* closed meanwhile */ }
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
    this.write((frames.length ? frames.join("\n") + "\n" : "") + positionLine(ringPosition) + "\n");
  }

  /**
   * The recording's frames so far are in the store (`sentFrames` of them in
   * all), or, with no `keep`, it is finalized; `keep` is what must stand after
   * the marker: its start frame and the frames that arrived while the segment
   * was being written.
   */
  markDone(id: string, keep: string[] = [], sentFrames?: number): void {
    const label = sentFrames === undefined ? "" : String(sentFrames);
    this.write(frame(id, FrameKind.done, 0, label, "0") + "\n" + keep.map((line) => line + "\n").join(""));
  }

  /** Compacts once the journal is large. */
  compactIfLarge(active: () => Iterable<string>, ringPosition: number): void {
    // Past the threshold and at least twice what the last compaction left: when the
    // active recordings alone exceed the threshold, compacting on every batch would
    // rewrite the whole journal each time.
    if (this.bytes >= Math.max(this.compactBytes, 2 * this.compactedBytes)) this.compact(active, ringPosition);
  }

  /** Rewrites the journal to hold only `active` frames; atomic by rename. */
  compact(active: () => Iterable<string>, ringPosition: number): void {
    const temp = this.path + ".compact";
    const fd = openSync(temp, "w", 0o600);
    let size = 0;
    let chunk: string[] = [];
    let chunkChars = 0;
    const flush = () => {
      size += writeAll(fd, chunk.join(""));
      chunk = [];
      chunkChars = 0;
    };
    for (const line of active()) {
      chunk.push(line + "\n");
      chunkChars += line.length + 1;
      if (chunkChars >= 1 << 20) flush();
    }
    chunk.push(positionLine(ringPosition) + "\n");
    flush();
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(temp, this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, "a", 0o600);
    this.bytes = size;
    this.compactedBytes = size;
    this.unsynced = false;
  }

  close(remove = false): void {
    this.stopTimer();
    try {
      fdatasyncSync(this.fd);
      closeSync(this.fd);
    } catch { /* already closed */ }
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

  private write(text: string): void {
    this.bytes += writeAll(this.fd, text);
    if (Date.now() - this.lastSync >= this.syncIntervalMs) this.sync();
    else this.unsynced = true;
  }

  private sync(): void {
    fdatasyncSync(this.fd);
    this.lastSync = Date.now();
    this.unsynced = false;
  }
}

function positionLine(position: number): string {
  return frame(JOURNAL_ID, FrameKind.position, position >>> 0, "", "0");
}

const encoder = new TextEncoder();

/** writeSync until every byte is written: a short write (a full disk) must not tear a batch silently. */
function writeAll(fd: number, text: string): number {
  const bytes = encoder.encode(text);
  let done = 0;
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw new Error("hono-replay: journal write made no progress");
    done += n;
  }
  return bytes.length;
}
