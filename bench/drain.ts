/**
 * 5. Drain and persist. (a) The events per second the persistence worker
 * drains from the ring and persists with fileStorage: signup sessions written
 * into the ring as fast as the request thread can (with backpressure, never
 * dropping), timed until `flush` says everything is drained and saved; against
 * a worker that only reads and counts the same frames (the ring's own speed),
 * and the same drain with recordings that are discarded at their end (no
 * interaction: no compression, no save). (b) The time from a session's end
 * (c.var.replay.end() in a handler) to its recording being readable from
 * replay.store, against saving the same bytes with the storage directly.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { createDemoApp } from "../examples/demo/app.tsx";
import {
  encodeRecordingFile,
  frame,
  FrameKind,
  newRecordingId,
  parseFrameHeader,
  randomToken,
  type Recording,
  type RecordingColumns,
  type RecordingMeta,
  recordingText,
  shortHash,
} from "../format/mod.ts";
import { fileStorage } from "../storage/mod.ts";
import { createRingBuffer, EventLog } from "../worker/mod.ts";
import { CaptureLog, keystrokes, recordKeystroke, startRecording } from "./keystrokes.ts";
import { median, now, p99, row, type Row, type Section, sleep } from "./lib.ts";
import { ScriptedBrowser, signupScript } from "./session.ts";
import { type BenchWorker, startBenchWorker, startEngine } from "./workers.ts";

/** One 200-keystroke signup session as frames, without their recording id (the id is the frame's first field). */
function sessionTemplate(): { rest: string[]; events: number } {
  const ks = keystrokes(201);
  const capture = new CaptureLog();
  const rec = startRecording(capture.asLog(), ks[0]);
  for (let i = 1; i < ks.length; i++) recordKeystroke(rec, ks[i], rec.startedAt + i * 150);
  const frames = [...capture.frames, frame(rec.id, FrameKind.end, 30_000, "", "0")];
  const rest = frames.map((f) => f.slice(rec.id.length));
  return { rest, events: frames.length - 2 };
}

/**
 * `sessions` sessions, 50 at a time interleaved frame by frame as concurrent
 * browsers would be. `discard` turns user events into info frames: same sizes,
 * but no interaction, so the engine drops each recording at its end.
 */
function workload(template: string[], sessions: number, discard: boolean): { ids: string[]; frames: string[] } {
  const rest = discard ? template.map((r) => (r.startsWith("\te\t") ? "\ti\t" + r.slice(3) : r)) : template;
  const ids: string[] = [];
  const frames: string[] = [];
  for (let first = 0; first < sessions; first += 50) {
    const block = Array.from({ length: Math.min(50, sessions - first) }, () => `bench${randomToken(12)}`);
    ids.push(...block);
    for (let j = 0; j < rest.length; j++) for (const id of block) frames.push(id + rest[j]);
  }
  return { ids, frames };
}

/** Writes frames as fast as the ring takes them; waits, instead of dropping, whenever the ring is full. */
async function produce(log: EventLog, frames: string[]): Promise<void> {
  for (let i = 0; i < frames.length; i++) {
    log.append("bench", frames[i]);
    if ((i & 1023) === 1023 && log.pending > 0) await log.drainOverflow();
  }
  await log.drainOverflow();
}

async function timeRaw(sink: BenchWorker, log: EventLog, frames: string[]): Promise<number> {
  const t0 = now();
  await produce(log, [...frames, "END"]);
  await sink.next("end");
  return now() - t0;
}

export async function drainSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const sessions = options.quick ? 25 : 250;
  const rounds = options.quick ? 1 : 3;
  const { rest, events: eventsPerSession } = sessionTemplate();
  const engine = await startEngine(join(options.tmp, "drain"));
  const sinkBuffer = createRingBuffer(4 * 1024 * 1024);
  const sinkLog = new EventLog(sinkBuffer);
  const sink = await startBenchWorker("./ring_sink_worker.ts", { buffer: sinkBuffer });
  const times = { raw: [] as number[], drain: [] as number[], persist: [] as number[] };
  let persisted = 0;
  try {
    for (let round = 0; round <= rounds; round++) {
      const n = round === 0 ? Math.min(10, sessions) : sessions;
      const kinds = round % 2 ? (["persist", "drain", "raw"] as const) : (["raw", "drain", "persist"] as const);
      for (const kind of kinds) {
        const { frames } = workload(rest, n, kind === "drain");
        let ms: number;
        if (kind === "raw") ms = await timeRaw(sink, sinkLog, frames);
        else {
          const t0 = now();
          await produce(engine.log, frames);
          await engine.host.request({ type: "flush" });
          ms = now() - t0;
        }
        if (round > 0) times[kind].push((n * eventsPerSession) / (ms / 1000));
        // The next round starts from an empty store, as the first did.
        if (kind === "persist") {
          persisted = (await engine.storage.list()).items.length;
          await engine.storage.clear();
        }
        await sleep(100);
      }
    }
  } finally {
    await sink.terminate();
    await engine.close();
  }
  // The producer waits for the worker instead of dropping; check it never had to drop.
  const dropped = engine.log.droppedTotal + sinkLog.droppedTotal;
  const latency = await endToReadable(options);
  const breakdown = await persistBreakdown(rest, options);
  const persistRate = median(times.persist);
  const rows: Row[] = [
    row({
      id: "drain.persist",
      label: "drain + persist (compress, fileStorage save)",
      value: persistRate,
      unit: "events/s",
      baseline: { label: "ring read only", value: median(times.raw) },
      target: { text: "≥ 200,000 events/s", met: persistRate >= 200_000 },
    }),
    row({
      id: "drain.compress",
      label: `  of which: compress one recording (encodeRecordingFile, fflate level 6)`,
      value: breakdown.compressMs,
      unit: "ms",
      baseline: { label: "node:zlib level 6, same text", value: breakdown.nativeDeflateMs },
    }),
    row({
      id: "drain.save",
      label: "  of which: fileStorage.save, one at a time",
      value: breakdown.saveMs,
      unit: "ms",
      baseline: { label: "writeFile of the same bytes", value: breakdown.writeFileMs },
    }),
    row({
      id: "drain.saveConcurrent",
      label: `  of which: fileStorage.save, ${breakdown.concurrent} at once (as the persister issues them)`,
      value: breakdown.concurrentSaveMs,
      unit: "ms",
      baseline: { label: "one at a time", value: breakdown.saveMs },
    }),
    row({
      id: "drain.only",
      label: "drain, recordings discarded at their end",
      value: median(times.drain),
      unit: "events/s",
      baseline: { label: "ring read only", value: median(times.raw) },
    }),
    row({
      id: "drain.endToReadable",
      label: "session end → readable from replay.store",
      value: latency.pipeline.median,
      p99: latency.pipeline.p99,
      unit: "ms",
      baseline: { label: "storage.save of the same bytes", value: latency.direct.median, p99: latency.direct.p99 },
      target: { text: "≤ 100 ms", met: latency.pipeline.median <= 100 },
    }),
  ];
  return {
    id: "drain",
    title: "5. Drain and persist — the persistence worker with fileStorage",
    method:
      `Rate: ${sessions} signup sessions of ${eventsPerSession} events per round (50 interleaved at a time), written into the 4 MiB ring as fast as it takes them, ` +
      `timed until flush() reports them drained and saved; ${rounds} rounds, the three variants in alternating order, the store emptied between rounds. ` +
      `Latency: ${latency.samples} sessions through the demo app, each ended by a handler calling c.var.replay.end() with the worker idle, polled every 1 ms with replay.store.getRecording().`,
    rows,
    notes: dropped ? [`${dropped} frames were dropped: the rates are not comparable.`] : [],
    details: { rates: times, persistedPerRound: persisted, dropped, latency, breakdown },
  };
}

interface Breakdown {
  compressMs: number;
  nativeDeflateMs: number;
  saveMs: number;
  writeFileMs: number;
  concurrent: number;
  concurrentSaveMs: number;
  bytes: number;
}

/** Where the persisting time goes, for one 401-event recording: compression, then the storage's save. */
async function persistBreakdown(rest: string[], options: { quick: boolean; tmp: string }): Promise<Breakdown> {
  const columns: RecordingColumns = { kinds: "", offsets: [], labels: [], payloads: [] };
  for (const r of rest) {
    const h = parseFrameHeader("x" + r)!;
    if (!["m", "e", "p", "i", "r", "f"].includes(h.kind)) continue;
    columns.kinds += h.kind;
    columns.offsets.push(h.t);
    if (h.kind === "e" || h.kind === "i") columns.labels.push(h.label);
    columns.payloads.push(("x" + r).slice(h.payloadAt));
  }
  const meta: RecordingMeta = {
    id: newRecordingId(),
    view: "SignupForm",
    url: "http://localhost/signup",
    sessionKey: "bench",
    startedAt: Date.now(),
    durationMs: columns.offsets[columns.offsets.length - 1],
    eventCount: columns.kinds.length,
    eventNames: ["validate"],
    truncated: false,
    dropped: 0,
    recovered: false,
    format: "tagged",
  };
  const repeat = options.quick ? 5 : 20;
  const compress: number[] = [];
  const native: number[] = [];
  let bytes: Uint8Array = new Uint8Array(0);
  for (let i = 0; i <= repeat; i++) {
    let t0 = now();
    bytes = encodeRecordingFile(meta, columns);
    const c = now() - t0;
    t0 = now();
    deflateSync(new TextEncoder().encode(recordingText(meta, columns)), { level: 6 });
    const d = now() - t0;
    if (i > 0) compress.push(c), native.push(d);
  }
  const storage = fileStorage({ path: join(options.tmp, "drain-breakdown") });
  const save: number[] = [];
  const write: number[] = [];
  for (let i = 0; i <= repeat; i++) {
    const id = newRecordingId();
    let t0 = now();
    await storage.save({ ...meta, id, sizeBytes: bytes.length }, bytes);
    const a = now() - t0;
    t0 = now();
    await writeFile(join(options.tmp, `drain-breakdown-${i}.hrp`), bytes);
    const b = now() - t0;
    if (i > 0) save.push(a), write.push(b);
  }
  await storage.clear();
  const concurrent = options.quick ? 10 : 50;
  const t0 = now();
  await Promise.all(Array.from({ length: concurrent }, () => storage.save({ ...meta, id: newRecordingId(), sizeBytes: bytes.length }, bytes)));
  const concurrentSaveMs = (now() - t0) / concurrent;
  return {
    compressMs: median(compress),
    nativeDeflateMs: median(native),
    saveMs: median(save),
    writeFileMs: median(write),
    concurrent,
    concurrentSaveMs,
    bytes: bytes.length,
  };
}

interface Latency {
  samples: number;
  pipeline: { median: number; p99: number; all: number[] };
  direct: { median: number; p99: number; all: number[] };
}

/** (b) From the end frame to a recording readable from the store, through the public API. */
async function endToReadable(options: { quick: boolean; tmp: string }): Promise<Latency> {
  const samples = options.quick ? 5 : 30;
  const storage = fileStorage({ path: join(options.tmp, "drain-latency") });
  const { app, replay } = createDemoApp({ storage });
  app.post("/__bench/end", (c) => {
    c.var.replay.end();
    return c.body(null, 204);
  });
  await replay.ready;
  const pipeline: number[] = [];
  const direct: number[] = [];
  const steps = signupScript(20, 3_000);
  try {
    for (let i = 0; i <= samples; i++) {
      const browser = new ScriptedBrowser(app);
      for (const step of steps.slice(0, -1)) await browser.send(step);
      const sessionKey = shortHash(browser.cookies.get("hono_replay")!.split("!")[0]);
      const active = (await replay.store.listActive()).find((s) => s.sessionKey === sessionKey);
      if (!active) throw new Error("the session's recording is not active");
      // Let the worker finish draining and go back to waiting.
      await sleep(150);
      const t0 = now();
      await browser.send({ at: 0, method: "POST", path: "/__bench/end" });
      let recording: Recording | undefined;
      while (!recording) {
        try {
          // Finalized: in the store as a recording, not only as segments.
          await storage.load(active.id);
          recording = await replay.store.getRecording(active.id);
        } catch (error) {
          if (now() - t0 > 30_000) throw new Error(`recording ${active.id} not readable 30 s after its end: ${error}`);
          await sleep(1);
        }
      }
      const ms = now() - t0;
      // The storage's own save of the same bytes, from this thread.
      const bytes = await storage.load(active.id);
      const { events: _events, ...summary } = recording;
      const copy = { ...summary, id: `${summary.id.slice(0, 10)}c${randomToken(11)}` };
      const t1 = now();
      await storage.save(copy, bytes);
      await replay.store.getRecording(copy.id);
      const saveMs = now() - t1;
      if (i > 0) pipeline.push(ms), direct.push(saveMs);
      await storage.delete(copy.id);
    }
  } finally {
    await replay.close();
  }
  return {
    samples,
    pipeline: { median: median(pipeline), p99: p99(pipeline), all: pipeline },
    direct: { median: median(direct), p99: p99(direct), all: direct },
  };
}
