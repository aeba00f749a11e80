/**
 * The request thread's side of the ring. A full ring never blocks or fails a
 * request: frames wait in a bounded overflow (in order) and are moved into the
 * ring as the worker frees space; past the bound a frame is dropped and counted
 * against its recording, and the count follows as a "dropped" frame: before
 * the recording's next frame that is queued, or after the overflow.
 */

import { DEFAULTS } from "../defaults.ts";
import { frame, FrameKind } from "../format/mod.ts";
import { RingWriter } from "./ring.ts";

export interface EventLogOptions {
  /** Characters the overflow may hold before frames are dropped. Default: `DEFAULTS.overflowLimit`. */
  overflowLimit?: number;
}

export class EventLog {
  private readonly writer: RingWriter;
  private overflow: string[] = [];
  private overflowHead = 0;
  private overflowChars = 0;
  private readonly overflowLimit: number;
  private readonly droppedBy = new Map<string, number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames dropped since start, over all recordings. */
  droppedTotal = 0;

  constructor(readonly buffer: SharedArrayBuffer, options: EventLogOptions = {}) {
    this.writer = new RingWriter(buffer);
    this.overflowLimit = options.overflowLimit ?? DEFAULTS.overflowLimit;
  }

  /** Appends a frame for recording `id`. Returns false if it had to be dropped. */
  append(id: string, text: string): boolean {
    // A frame over half the ring could never be written: counted like any other loss.
    if (!this.writer.fits(text)) return this.drop(id);
    if (this.overflowHead === this.overflow.length && this.droppedBy.size === 0 && this.writer.write(text)) return true;
    this.flush();
    if (this.overflowHead === this.overflow.length && this.droppedBy.size === 0 && this.writer.write(text)) return true;
    if (this.overflowChars + text.length > this.overflowLimit) return this.drop(id);
    // The count of what was dropped goes before the recording's next frame: that may be its
    // end, after which a count would find no recording to be counted in.
    const gap = this.droppedBy.get(id);
    if (gap !== undefined) {
      this.droppedBy.delete(id);
      this.queue(frame(id, FrameKind.dropped, 0, String(gap), "0"));
    }
    this.queue(text);
    this.scheduleFlush();
    return true;
  }

  private queue(text: string): void {
    this.overflow.push(text);
    this.overflowChars += text.length;
  }

  private drop(id: string): false {
    this.droppedBy.set(id, (this.droppedBy.get(id) ?? 0) + 1);
    this.droppedTotal++;
    this.scheduleFlush();
    return false;
  }

  /** Has the worker read the ring now rather than at its next poll (a recording's end: its store copy is awaited). */
  nudge(): void {
    this.writer.nudge();
  }

  /** The drainer's heartbeat: a count its loop bumps every turn (worker/engine.ts), so a turn is a wake-up. */
  get drainerBeats(): number {
    return this.writer.heartbeat();
  }

  /** Frames waiting outside the ring. */
  get pending(): number {
    return this.overflow.length - this.overflowHead + this.droppedBy.size;
  }

  /** Moves what it can from the overflow into the ring; true when nothing is left waiting. */
  flush(): boolean {
    while (this.overflowHead < this.overflow.length) {
      const text = this.overflow[this.overflowHead];
      if (!this.writer.write(text)) return false;
      this.overflowHead++;
      this.overflowChars -= text.length;
    }
    this.overflow = [];
    this.overflowHead = 0;
    for (const [id, count] of this.droppedBy) {
      if (!this.writer.write(frame(id, FrameKind.dropped, 0, String(count), "0"))) return false;
      this.droppedBy.delete(id);
    }
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    const retry = () => {
      this.flushTimer = undefined;
      if (!this.flush()) this.scheduleFlush();
    };
    this.flushTimer = setTimeout(retry, 5);
    // An overflow must not keep a process alive that is otherwise done.
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  /** Gives up on what waits in the overflow (close() when no engine takes it): dropped and counted. Returns how many. */
  dropPending(): number {
    const count = this.overflow.length - this.overflowHead;
    this.overflow = [];
    this.overflowHead = 0;
    this.overflowChars = 0;
    this.droppedTotal += count;
    return count;
  }

  /**
   * Waits (asynchronously) until every frame is in the ring. Fails only when the
   * worker frees no space for `timeoutMs`: a large overflow that is moving is not stuck.
   */
  async drainOverflow(timeoutMs = 10_000): Promise<void> {
    let deadline = Date.now() + timeoutMs;
    let waiting = this.pending;
    while (!this.flush()) {
      if (this.pending < waiting) {
        waiting = this.pending;
        deadline = Date.now() + timeoutMs;
      } else if (Date.now() > deadline) {
        throw new Error("hono-replay: the worker did not free ring space in time");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
