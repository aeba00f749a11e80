/**
 * The SharedArrayBuffer ring: order, integrity, wrap-around, back-pressure,
 * re-reading what was not committed, skipTo, and a real worker thread draining
 * while this thread writes.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { createRingBuffer, RingReader, RingWriter } from "./mod.ts";
import type { WaitMode } from "./ring.ts";
import { spawnWorker } from "./runtime.ts";
import type { DrainReport } from "./ring_reader.fixture.ts";
import { chainHash } from "./frame_hash.fixture.ts";

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1, 2, 3 and 4 UTF-8 bytes per character, including a surrogate pair. */
const ALPHABET = ["a", "Z", "7", " ", "\t", "é", "ß", "Ж", "日", "本", "€", "😀", "🎉", "\u0301", "\n", "\\", '"'];

/** Frame i: "<i>|" then `length` characters drawn from ALPHABET. */
function makeFrame(i: number, next: () => number, maxLength: number): string {
  const length = Math.floor(next() * (maxLength + 1));
  let text = i + "|";
  for (let k = 0; k < length; k++) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return text;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

test("frames come out in order and intact, multi-byte UTF-8 included", () => {
  const buffer = createRingBuffer(4096);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  const frames = ["", "plain ascii", "naïve café — “quotes”", "日本語のテキスト", "emoji 😀🎉👩‍👩‍👧", "tab\there\nnewline", "x".repeat(1000)];
  for (const f of frames) assert.ok(writer.write(f), `wrote ${JSON.stringify(f.slice(0, 20))}`);
  assert.equal(reader.readAvailable(), frames);
  assert.equal(reader.readAvailable(), [], "nothing is read twice by the same reader");
  writer.write("after");
  assert.equal(reader.readAvailable(), ["after"]);
});

test("readAvailable(max) reads at most max frames and continues where it stopped", () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  for (let i = 0; i < 5; i++) writer.write(`f${i}`);
  assert.equal(reader.readAvailable(2), ["f0", "f1"]);
  assert.equal(reader.readAvailable(2), ["f2", "f3"]);
  assert.equal(reader.readAvailable(2), ["f4"]);
});

test("wrap-around: varied frame sizes over many laps of a 1024-byte ring", () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  const next = random(42);
  const written: string[] = [];
  const read: string[] = [];
  let bytes = 0;
  let refused = 0;
  let i = 0;
  while (bytes < 200 * 1024) {
    // Up to 120 characters of up to 4 bytes: frames from 8 to ~480 bytes.
    const f = makeFrame(i, next, 120);
    if (writer.write(f)) {
      written.push(f);
      bytes += utf8Length(f) + 4;
      i++;
    } else {
      refused++;
      // Drain a random part: a reader that lags behind by different amounts.
      const got = reader.readAvailable(1 + Math.floor(next() * 4));
      read.push(...got);
      reader.commit();
    }
  }
  read.push(...reader.readAvailable());
  reader.commit();
  assert.ok(refused > 100, `the ring filled up many times (${refused})`);
  assert.ok(bytes > 100 * 1024, "many laps of the ring");
  assert.is(read.length, written.length);
  assert.equal(read, written);
  assert.is(reader.info().used, 0, "everything read was committed");
});

test("frames larger and smaller than the reader's copy window, over laps of a 2 MiB ring, come out intact", () => {
  const buffer = createRingBuffer(2 * 1024 * 1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  const next = random(7);
  const sizes = [10, 300_000, 5, 120_000, 700_000, 1, 260_000, 40, 262_140];
  const written: string[] = [];
  const read: string[] = [];
  for (let i = 0; i < 60; i++) {
    const frame = makeFrame(i, next, 0) + "x".repeat(sizes[i % sizes.length]) + "é";
    while (!writer.write(frame)) {
      read.push(...reader.readAvailable());
      reader.commit();
    }
    written.push(frame);
    // Now and then the reader takes one frame at a time, then what is left.
    if (i % 7 === 3) read.push(...reader.readAvailable(1));
  }
  read.push(...reader.readAvailable());
  assert.is(read.length, written.length);
  for (let i = 0; i < written.length; i++) assert.ok(read[i] === written[i], `frame ${i} (${written[i].length} characters)`);
});

test("a full ring refuses frames until the reader commits", () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  const frame = "x".repeat(100); // 104 bytes with its length
  let n = 0;
  while (writer.write(frame + n)) n++;
  assert.ok(n >= 8 && n <= 9, `about 1024 / 108 frames fit, got ${n}`);
  assert.not.ok(writer.write(frame + n), "still full");
  // Reading alone frees nothing: the frames are not durable yet.
  const firstTwo = reader.readAvailable(2);
  assert.equal(firstTwo, [frame + 0, frame + 1]);
  assert.not.ok(writer.write(frame + n), "reading without commit does not free space");
  reader.commit();
  assert.ok(writer.write(frame + n), "commit freed space");
  const rest = reader.readAvailable();
  assert.equal(rest, Array.from({ length: n - 1 }, (_, k) => frame + (k + 2)));
});

test("a frame larger than half the ring is refused with a RangeError, not written", () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  assert.throws(() => writer.write("x".repeat(600)), (e: unknown) => e instanceof RangeError);
  // Multi-byte: 200 characters of 3 bytes are 600 bytes.
  assert.throws(() => writer.write("日".repeat(200)), (e: unknown) => e instanceof RangeError);
  assert.ok(writer.write("ok"));
  assert.equal(reader.readAvailable(), ["ok"]);
});

test("frames read but not committed are read again by a new reader (a worker that died before commit)", () => {
  const buffer = createRingBuffer(4096);
  const writer = new RingWriter(buffer);
  const frames = Array.from({ length: 30 }, (_, i) => `frame ${i} ✓`);
  for (const f of frames.slice(0, 10)) writer.write(f);

  const first = new RingReader(buffer);
  assert.equal(first.readAvailable(), frames.slice(0, 10));
  first.commit(); // these ten are durable
  for (const f of frames.slice(10)) writer.write(f);
  assert.equal(first.readAvailable(), frames.slice(10), "read, then the worker dies before committing");

  const second = new RingReader(buffer);
  assert.equal(second.readAvailable(), frames.slice(10), "the replacement reads exactly the uncommitted frames");
  second.commit();
  const third = new RingReader(buffer);
  assert.equal(third.readAvailable(), [], "nothing left after the replacement committed");
});

test("commit(position) frees only up to that position", () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  writer.write("a");
  writer.write("b");
  reader.readAvailable(1);
  const afterA = reader.position;
  reader.readAvailable();
  reader.commit(afterA);
  assert.equal(new RingReader(buffer).readAvailable(), ["b"]);
});

test("skipTo moves a new reader past frames the journal already holds, and commits", () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  for (let i = 0; i < 6; i++) writer.write(`f${i}`);
  const dying = new RingReader(buffer);
  assert.equal(dying.readAvailable(4), ["f0", "f1", "f2", "f3"]);
  const journaled = dying.position; // journaled up to here, then died before commit
  const usedBefore = dying.info().used;

  const replacement = new RingReader(buffer);
  replacement.skipTo(journaled);
  assert.is(replacement.position, journaled);
  assert.ok(replacement.info().used < usedBefore, "skipTo committed: the skipped frames' space is free");
  assert.equal(replacement.readAvailable(), ["f4", "f5"]);

  // A position behind the cursor, or past what was written, is ignored.
  const other = new RingReader(buffer);
  const at = other.position;
  other.skipTo((at + 4096) >>> 0);
  assert.is(other.position, at, "past the write position: ignored");
  other.skipTo(at);
  assert.is(other.position, at);
  assert.equal(other.readAvailable(), ["f4", "f5"]);
});

test("positions are free-running 32-bit counters: writing across 2^32 keeps frames intact", () => {
  const buffer = createRingBuffer(1024);
  // White box: header slots 0 and 1 are the write and read positions. Start just
  // before they wrap at 2^32, as they do after 4 GiB of traffic.
  const header = new Int32Array(buffer, 0, 2);
  header[0] = header[1] = (2 ** 32 - 700) | 0;
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  const next = random(7);
  const written: string[] = [];
  const read: string[] = [];
  for (let i = 0; i < 400; i++) {
    const f = makeFrame(i, next, 60);
    while (!writer.write(f)) {
      read.push(...reader.readAvailable());
      reader.commit();
    }
    written.push(f);
  }
  read.push(...reader.readAvailable());
  reader.commit();
  assert.ok((Atomics.load(header, 0) >>> 0) < 2 ** 31, "the write position wrapped past 2^32");
  assert.equal(read, written);
  assert.is(reader.info().used, 0);
});

/**
 * A 1 KiB ring and `race(ms, mode)`: "woken" when the reader's wait() returns
 * first, "still waiting" after `ms`; `later(fn)` runs fn in a macrotask, once
 * the wait began (wait() registers its waiter synchronously). Each test
 * runs inside `run`, which clears the timers afterwards.
 */
async function withWaitingReader(run: (ring: { writer: RingWriter; reader: RingReader; race: (ms: number, mode?: WaitMode) => Promise<unknown>; later: (fn: () => void) => void }) => Promise<void>) {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  // Deno does not count a pending Atomics.waitAsync as work that keeps the
  // process alive (the engine's worker is kept alive by its message port).
  const keepAlive = setInterval(() => {}, 1000);
  const timers: ReturnType<typeof setTimeout>[] = [];
  const race = (ms: number, mode?: WaitMode) =>
    Promise.race([
      reader.wait(60_000, mode).then(() => "woken"),
      new Promise((resolve) => timers.push(setTimeout(() => resolve("still waiting"), ms))),
    ]);
  try {
    await run({ writer, reader, race, later: (fn) => void timers.push(setTimeout(fn, 0)) });
  } finally {
    clearInterval(keepAlive);
    timers.forEach(clearTimeout);
  }
}

test("wait() is not woken per frame, only when the ring passes half full", () =>
  withWaitingReader(async ({ writer, reader, race, later }) => {
    // One small frame: the request thread does not pay for a wake-up.
    later(() => writer.write("small"));
    assert.is(await race(300), "still waiting");
    assert.equal(reader.readAvailable(), ["small"]);
    reader.commit();
    // Filling past half the ring wakes the reader at once: it must drain before the ring is full.
    later(() => {
      for (let i = 0; i < 6; i++) writer.write("x".repeat(100));
    });
    assert.is(await race(15_000), "woken");
    assert.is(reader.readAvailable().length, 6);
  }));

test("a paced wait() is not ended by frames already there, only by the ring passing half full", () =>
  withWaitingReader(async ({ writer, reader, race, later }) => {
    writer.write("unread");
    // Control: an unpaced wait returns at once when a frame is there.
    assert.is(await race(5_000), "woken");
    // Paced (the engine just drained under load): the frame waits for the next poll.
    assert.is(await race(300, "paced"), "still waiting");
    later(() => {
      for (let i = 0; i < 5; i++) writer.write("x".repeat(100));
    });
    assert.is(await race(15_000, "paced"), "woken");
    assert.is(reader.readAvailable().length, 6);
  }));

test("an idle wait() is woken by the first frame written, and wake() ends any wait", () =>
  withWaitingReader(async ({ writer, reader, race, later }) => {
    // Control: polling, one small frame does not wake the reader.
    later(() => writer.write("small"));
    assert.is(await race(300), "still waiting");
    assert.equal(reader.readAvailable(), ["small"]);
    reader.commit();
    // Idle: the same small frame wakes it at once.
    later(() => writer.write("first"));
    assert.is(await race(15_000, "idle"), "woken");
    assert.equal(reader.readAvailable(), ["first"]);
    reader.commit();
    // Once woken and polling again, small frames no longer wake it.
    later(() => writer.write("second"));
    assert.is(await race(300), "still waiting");
    reader.readAvailable();
    reader.commit();
    later(() => reader.wake());
    assert.is(await race(15_000), "woken");
  }));

test("nudge() ends a polling or paced wait for a frame that is awaited (a recording's end); with no wait under way it does nothing", () =>
  withWaitingReader(async ({ writer, reader, race, later }) => {
    // Control: a small frame alone does not end a polling wait.
    later(() => writer.write("end"));
    assert.is(await race(300), "still waiting");
    reader.readAvailable();
    reader.commit();
    later(() => (writer.write("end"), writer.nudge()));
    assert.is(await race(15_000), "woken");
    assert.equal(reader.readAvailable(), ["end"]);
    reader.commit();
    later(() => (writer.write("end"), writer.nudge()));
    assert.is(await race(15_000, "paced"), "woken");
    reader.readAvailable();
    reader.commit();
    // Nudged while nobody waits: the next wait is not ended by it.
    writer.nudge();
    assert.is(await race(300), "still waiting");
  }));

test("a real worker thread drains 200,000 frames while this thread writes: each arrives once, in order", async () => {
  const buffer = createRingBuffer(4096);
  const writer = new RingWriter(buffer);
  let resolveReport!: (r: DrainReport) => void;
  let rejectReport!: (e: Error) => void;
  const reported = new Promise<DrainReport>((resolve, reject) => {
    resolveReport = resolve;
    rejectReport = reject;
  });
  const worker = await spawnWorker(new URL("./ring_reader.fixture.ts", import.meta.url), { buffer }, {
    onMessage: (m) => resolveReport(m as DrainReport),
    onExit: (reason) => rejectReport(new Error(`drain worker died: ${reason}`)),
  });
  worker.keepAlive(true);
  try {
    const N = 200_000;
    const next = random(2024);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let hash = 0x811c9dc5;
    let refused = 0;
    for (let i = 0; i < N; i++) {
      // Mostly small frames, some up to ~640 bytes: the 4 KiB ring wraps constantly.
      const f = makeFrame(i, next, i % 50 === 0 ? 160 : 12);
      while (!writer.write(f)) {
        refused++;
        // The reader is another thread: block this one for 50 µs, then retry.
        Atomics.wait(pause, 0, 0, 0.05);
        if (refused % 2000 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      hash = chainHash(hash, f);
    }
    while (!writer.write("END")) Atomics.wait(pause, 0, 0, 0.05);
    const report = await reported;
    assert.is(report.firstOutOfOrder, -1, `frame ${report.firstOutOfOrder} arrived out of order`);
    assert.is(report.count, N);
    assert.is(report.hash, hash, "the same bytes, in the same order");
    assert.ok(refused > 0, "the ring was full at times (the writer outran the reader)");
    assert.ok(report.batches > 1, "drained concurrently, in many batches");
  } finally {
    await worker.terminate();
  }
});


test("a reader that takes over clears the wait flag of a worker terminated mid-wait, so frames stop signalling", async () => {
  const buffer = createRingBuffer(1024);
  const writer = new RingWriter(buffer);
  // White box: header slot 3 counts the writer's signals (an atomic add and a notify each).
  const signals = () => Atomics.load(new Int32Array(buffer, 0, 4), 3);
  let waiting!: () => void;
  let died!: (error: Error) => void;
  const started = new Promise<void>((resolve, reject) => ((waiting = resolve), (died = reject)));
  const worker = await spawnWorker(new URL("./ring_reader.fixture.ts", import.meta.url), { buffer, idle: true }, {
    onMessage: () => waiting(),
    onExit: (reason) => died(new Error(`the waiting worker died before it waited: ${reason}`)),
  });
  worker.keepAlive(true);
  try {
    await started;
  } finally {
    await worker.terminate();
  }

  const before = signals();
  writer.write("a");
  assert.is(signals(), before + 1, "control: the dead worker left the idle flag set, so a frame signals");
  writer.write("b");
  assert.is(signals(), before + 2, "and the next one too: every frame pays for a waiter that is gone");

  const replacement = new RingReader(buffer).takeOver();
  for (let i = 0; i < 5; i++) writer.write(`c${i}`);
  assert.is(signals(), before + 2, "after takeOver no frame signals (the replacement polls)");
  assert.equal(replacement.readAvailable(), ["a", "b", "c0", "c1", "c2", "c3", "c4"], "and it reads every frame");
});

test.run();
