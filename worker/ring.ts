/**
 * A single-producer, single-consumer ring of text frames in a SharedArrayBuffer.
 *
 * The request thread appends with a few Atomics operations and one copy: no
 * message, no await, no lock. The worker reads from its own cursor and commits
 * the read position only once what it read is safe in the journal, so a worker
 * that dies mid-batch is replaced by one that reads the same frames again.
 *
 * Positions are free-running 32-bit counters (they wrap at 2^32, which is a
 * multiple of the power-of-two capacity); a frame is a little-endian u32 byte
 * length, the UTF-8 bytes, padding to 4. A frame never straddles the end: when
 * it does not fit, a SKIP length sends the reader back to the start.
 */

const WRITE = 0;
const READ = 1;
const WAITING = 2;
const SIGNAL = 3;
const HEARTBEAT = 4;
/** WAITING: the reader polls (the writer wakes it only past half full), or idles (the first frame wakes it). */
const WAITING_POLL = 1;
const WAITING_IDLE = 2;

/**
 * How the reader waits: `poll` until its timeout, or sooner once the ring is
 * past half full (or at once when frames are there); `paced` the same, but
 * frames already there do not end it; `idle` until the first frame is written.
 */
export type WaitMode = "poll" | "paced" | "idle";
const HEADER_BYTES = 64;
const SKIP = 0xffffffff;

interface RingInfo {
  capacity: number;
  used: number;
}

/** A ring of `capacityBytes` (a power of two; createReplay's default is `DEFAULTS.ringBytes`). */
export function createRingBuffer(capacityBytes: number): SharedArrayBuffer {
  if (capacityBytes < 1024 || (capacityBytes & (capacityBytes - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two of at least 1024 bytes, got ${capacityBytes}`);
  }
  return new SharedArrayBuffer(HEADER_BYTES + capacityBytes);
}

/** A frame over half the ring can never be written; the log drops and counts it. */
class FrameTooLargeError extends RangeError {
  constructor(bytes: number) {
    super(`frame of ${bytes} bytes exceeds half the ring; raise ringBytes or lower maxValueChars`);
  }
}

class RingView {
  protected readonly header: Int32Array;
  protected readonly data: Uint8Array;
  protected readonly view: DataView;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
    this.view = new DataView(buffer, HEADER_BYTES, this.capacity);
    this.mask = this.capacity - 1;
  }

  /** Ends the reader's wait(): SIGNAL changes, so a wait that has not started yet returns too. */
  protected signal(): void {
    Atomics.add(this.header, SIGNAL, 1);
    Atomics.notify(this.header, SIGNAL);
  }

  info(): RingInfo {
    return { capacity: this.capacity, used: (Atomics.load(this.header, WRITE) - Atomics.load(this.header, READ)) >>> 0 };
  }

  heartbeat(): number {
    return Atomics.load(this.header, HEARTBEAT);
  }
}

export class RingWriter extends RingView {
  private readonly encoder = new TextEncoder();
  private scratch = new Uint8Array(4096);

  /**
   * Ends the reader's wait now (it polls otherwise): for a frame someone waits
   * on, such as a recording's end. Free when the reader is not waiting.
   */
  nudge(): void {
    if (Atomics.load(this.header, WAITING) !== 0) this.signal();
  }

  /** Whether a frame of this text can ever fit: at most half the ring. */
  fits(text: string): boolean {
    const limit = this.capacity / 2 - 8;
    // UTF-8 takes 1 to 3 bytes per UTF-16 unit: only measure exactly when it matters.
    if (text.length * 3 <= limit) return true;
    return text.length <= limit && this.encoder.encode(text).length <= limit;
  }

  /**
   * Appends one frame; false when it does not fit now (the caller keeps it).
   * The common case encodes straight into shared memory. The worker is not woken
   * per frame (a futex wake costs more than the whole append): it polls, and is
   * only woken when the ring passes half full.
   */
  write(text: string): boolean {
    const w = Atomics.load(this.header, WRITE) >>> 0;
    const free = this.capacity - ((w - (Atomics.load(this.header, READ) >>> 0)) >>> 0);
    const at = w & this.mask;
    const widest = text.length * 3;
    if (((4 + widest + 3) & ~3) <= Math.min(this.capacity - at, free)) {
      const bytes = this.encoder.encodeInto(text, this.data.subarray(at + 4, at + 4 + widest)).written;
      if (4 + bytes > this.capacity / 2) throw new FrameTooLargeError(bytes);
      this.view.setUint32(at, bytes, true);
      const size = (4 + bytes + 3) & ~3;
      return this.publish(w + size, size, free);
    }
    return this.writeNearEnd(text, w, free);
  }

  /** Near the end of the ring or when nearly full: encode first, so the exact size decides. */
  private writeNearEnd(text: string, w: number, free: number): boolean {
    const bytes = this.encodeToScratch(text);
    const size = (4 + bytes + 3) & ~3;
    if (size > this.capacity / 2) throw new FrameTooLargeError(bytes);
    const at = w & this.mask;
    const tail = this.capacity - at;
    let start = w;
    if (tail < size) {
      if (free < tail + size) return false;
      this.view.setUint32(at, SKIP, true);
      start = (w + tail) >>> 0;
    } else if (free < size) {
      return false;
    }
    const offset = start & this.mask;
    this.view.setUint32(offset, bytes, true);
    this.data.set(this.scratch.subarray(0, bytes), offset + 4);
    return this.publish(start + size, size + ((start - w) >>> 0), free);
  }

  private publish(end: number, used: number, free: number): true {
    Atomics.store(this.header, WRITE, end | 0);
    const waiting = Atomics.load(this.header, WAITING);
    if (waiting === WAITING_IDLE || (waiting === WAITING_POLL && free - used < this.capacity / 2)) this.signal();
    return true;
  }

  private encodeToScratch(text: string): number {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (this.scratch.length < text.length * 3) this.scratch = new Uint8Array(text.length * 3 + 1024);
    return this.encoder.encodeInto(text, this.scratch).written;
  }
}

/**
 * Bytes the reader copies out of shared memory at once (TextDecoder refuses
 * views of it): one copy per this many bytes instead of an ArrayBuffer per
 * frame. A frame larger than this is copied on its own.
 */
const COPY_WINDOW_BYTES = 256 * 1024;

export class RingReader extends RingView {
  private readonly decoder = new TextDecoder();
  private cursor: number;
  /** Unshared copy of `data[windowAt, windowEnd)`, valid during one `readAvailable`. */
  private window = new Uint8Array(0);
  private windowAt = 0;
  private windowEnd = 0;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.cursor = Atomics.load(this.header, READ) >>> 0;
  }

  /** Position after everything read so far (what `commit` will publish). */
  get position(): number {
    return this.cursor;
  }

  /** Reads every complete frame written since the cursor. Does not free space. */
  readAvailable(max = Infinity): string[] {
    const frames: string[] = [];
    const w = Atomics.load(this.header, WRITE) >>> 0;
    // What was copied before may have been overwritten since.
    this.windowEnd = 0;
    while (this.cursor !== w && frames.length < max) {
      const at = this.cursor & this.mask;
      const length = this.view.getUint32(at, true);
      if (length === SKIP) {
        this.cursor = (this.cursor + (this.capacity - at)) >>> 0;
        continue;
      }
      frames.push(this.decoder.decode(this.copied(at + 4, length, ((w - this.cursor) >>> 0) - 4)));
      this.cursor = (this.cursor + ((4 + length + 3) & ~3)) >>> 0;
    }
    return frames;
  }

  /** An unshared copy of `data[at, at + length)`, from the window; `written`: bytes written from `at` on. */
  private copied(at: number, length: number, written: number): Uint8Array {
    if (at < this.windowAt || at + length > this.windowEnd) {
      if (length > COPY_WINDOW_BYTES) return this.data.slice(at, at + length);
      if (this.window.length === 0) this.window = new Uint8Array(COPY_WINDOW_BYTES);
      const size = Math.min(COPY_WINDOW_BYTES, this.capacity - at, written);
      this.window.set(this.data.subarray(at, at + size));
      this.windowAt = at;
      this.windowEnd = at + size;
    }
    return this.window.subarray(at - this.windowAt, at - this.windowAt + length);
  }

  /** Frees the space up to `position`: call once the frames before it are durable. */
  commit(position = this.cursor): void {
    Atomics.store(this.header, READ, position | 0);
  }

  /**
   * Moves both the cursor and the committed position forward to a position the
   * journal already holds (a worker that died between journaling and committing).
   */
  skipTo(position: number): void {
    const ahead = (position - this.cursor) >>> 0;
    const written = (Atomics.load(this.header, WRITE) - this.cursor) >>> 0;
    if (ahead === 0 || ahead > written) return;
    this.cursor = position >>> 0;
    this.commit();
  }

  /**
   * Makes this the ring's drainer: clears the wait flag a reader that died
   * mid-wait (a terminated worker) left set, or the writer would signal for
   * every frame from then on. Only for the reader that drains (the engine, the
   * bridge), not for one that merely watches (heartbeat.ts): a live drainer
   * that is waiting needs that flag to be woken.
   */
  takeOver(): this {
    Atomics.store(this.header, WAITING, 0);
    return this;
  }

  /** Tells the request thread this reader is alive (it restarts a worker that stops beating). */
  beat(): void {
    Atomics.add(this.header, HEARTBEAT, 1);
  }

  /** Ends a wait() at once (the engine is shutting down). */
  wake(): void {
    this.signal();
  }

  /**
   * Resolves when a frame may be there, or after `timeoutMs` (see WaitMode).
   * `paced`: the reader just drained and reads again in `timeoutMs`; `idle`:
   * nothing is being recorded, and the writer pays one wake-up for the first
   * frame rather than the reader a hundred a second for none.
   */
  async wait(timeoutMs: number, mode: WaitMode = "poll"): Promise<void> {
    const seen = Atomics.load(this.header, SIGNAL);
    Atomics.store(this.header, WAITING, mode === "idle" ? WAITING_IDLE : WAITING_POLL);
    try {
      const unread = (Atomics.load(this.header, WRITE) - this.cursor) >>> 0;
      if (mode === "paced" ? unread >= this.capacity / 2 : unread !== 0) return;
      const waitAsync = atomicsWaitAsync();
      if (waitAsync) {
        const result = waitAsync(this.header, SIGNAL, seen, timeoutMs);
        if (result.async) await result.value;
      } else {
        await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 10)));
      }
    } finally {
      Atomics.store(this.header, WAITING, 0);
    }
  }
}

/**
 * Whether this runtime can wait on the ring without blocking its thread
 * (Atomics.waitAsync: Node 16+, Deno). Such a wait does not keep the process
 * running, as an unref'd timer does not: usable on the request thread too.
 */
export function canWaitAsync(): boolean {
  return atomicsWaitAsync() !== undefined;
}

function atomicsWaitAsync(): WaitAsync | undefined {
  return (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout: number,
) => { async: boolean; value: Promise<string> | string };
