/**
 * The request thread's stand-in for a persistence worker that died, until its
 * replacement attaches: it moves frames from the ring into the instance's
 * journal, which is all a drainer does that outlives the process.
 *
 * Requests keep writing into the ring while no worker reads it. Replacing a
 * worker takes a restart delay and then a new thread loading its modules (half
 * a second to over two under tsx on a loaded machine), and until the
 * replacement journaled them those frames were only in memory: a process
 * killed then lost everything since the worker died, not at most its last
 * second. Journaled here, the replacement reads them as it reads whatever its
 * predecessor left (and after a kill, the next instance recovers them).
 *
 * Invariants, and why:
 * - One drainer at a time. The host starts a bridge only once the dead worker
 *   is terminated, and stops it (after a last batch) before a replacement or
 *   the in-process engine reads the journal and the ring (worker/host.ts).
 * - It never loses a frame. A batch is committed in the ring only once it is
 *   written. A write that fails (a full disk) is cut back off the file and the
 *   bridge stops reading, leaving the frames in the ring for the replacement:
 *   the bridge holds nothing in memory to rewrite the journal from, so
 *   emptying it as the engine's journal does (worker/journal.ts) would lose
 *   what the dead worker left there.
 * - Bounded. Past `maxChars` journaled it stops reading (frames stay in the
 *   ring, then the overflow, as without a bridge): the replacement takes all
 *   of it into memory, which the engine bounds by the same number.
 * - Alive. It syncs and touches the file every second, as an engine does: a
 *   journal nobody touches is taken for orphaned by other instances.
 */

import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, futimesSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { batchText, describe, Journal, writeAll } from "./journal.ts";
import { RingReader } from "./ring.ts";

/** Frames per write, as the engine reads them. */
const BATCH = 20_000;
/** How often the journal is synced and touched. */
const SYNC_MS = 1_000;

export class JournalBridge {
  private readonly reader: RingReader;
  private readonly fd: number;
  /** The file's length after the last whole batch: where a failed write is cut back to. */
  private size: number;
  private lastSync = Date.now();
  private unsynced = false;
  /** Characters of frames journaled. */
  chars = 0;
  /** Frames journaled. */
  frames = 0;
  /** Why it stopped reading the ring, once it has. */
  halted?: string;

  constructor(
    buffer: SharedArrayBuffer,
    readonly path: string,
    private readonly maxChars: number,
    private readonly warn: (message: string) => void,
  ) {
    // The dead worker may have journaled a batch and died before committing it in the ring.
    const { position } = Journal.read(path);
    this.reader = new RingReader(buffer).takeOver();
    if (position !== undefined) this.reader.skipTo(position);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, "a", 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /** Journals what the ring holds, and syncs and touches the file once a second. Never throws. */
  tick(): void {
    if (!this.halted && this.chars >= this.maxChars) {
      this.halted = `it holds ${this.chars} characters, the engine's bound`;
    }
    const frames = this.halted ? [] : this.reader.readAvailable(BATCH);
    if (frames.length) {
      try {
        this.size += writeAll(this.fd, batchText(frames, this.reader.position));
      } catch (error) {
        this.fail(error);
        return;
      }
      this.reader.commit();
      this.unsynced = true;
      this.frames += frames.length;
      for (const line of frames) this.chars += line.length;
    }
    if (Date.now() - this.lastSync >= SYNC_MS) this.sync();
  }

  /** Journals what is left and closes the file; the journal stays for whoever drains next. */
  stop(): void {
    this.tick();
    if (this.unsynced) this.sync();
    closeSync(this.fd);
  }

  private sync(): void {
    this.lastSync = Date.now();
    try {
      if (this.unsynced) fdatasyncSync(this.fd);
      this.unsynced = false;
      const now = new Date();
      futimesSync(this.fd, now, now);
    } catch (error) {
      // What was written is with the OS (a killed process loses none of it); only a power loss could.
      this.warn(`the crash journal ${this.path} could not be synced (${describe(error)})`);
    }
  }

  /** A batch could not be written: cut it off and read no more (its frames, not committed, stay in the ring). */
  private fail(error: unknown): void {
    this.halted = describe(error);
    try {
      ftruncateSync(this.fd, this.size);
    } catch (undo) {
      this.warn(`the crash journal ${this.path} may end in a torn batch (${describe(undo)}); the next worker could read one frame of it wrongly`);
    }
    // Not committed, and never read here again: the replacement reads them from the ring.
    this.warn(
      `the crash journal ${this.path} cannot be written (${this.halted}) while the persistence worker is replaced: ` +
        `frames wait in memory for the replacement (a crash meanwhile loses them)`,
    );
  }
}
