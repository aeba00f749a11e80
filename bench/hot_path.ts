/**
 * 2. Hot path and 7a. its scaling: the request thread's cost per recorded event,
 * split into sanitize + encode (the recorder with a log that only keeps the
 * frames) and the append itself (EventLog.append into the SharedArrayBuffer
 * ring, drained by the real persistence worker), against (a) posting the same
 * frame to a worker per event and (b) the request's own work without a recorder
 * (rendering the view).
 */

import { join } from "node:path";
import { frame, FrameKind } from "../format/mod.ts";
import { fidelityHash } from "../recorder/fidelity.ts";
import { CaptureLog, keystrokes, recordKeystroke, renderSignup, startRecording } from "./keystrokes.ts";
import { median, now, p99, row, type Row, type Section, sleep, timerOverheadNs } from "./lib.ts";
import { type BenchWorker, type Engine, startBenchWorker, startEngine } from "./workers.ts";

/** A configured key, as production runs with (a shared secret): the recorder's keyed hash. */
const FIDELITY_KEY = "bench-fidelity-key-0123456789abcdef";

const BATCH = 16;

interface Samples {
  sanitizeEncode: number[];
  hash: number[];
  renderOnly: number[];
  keystrokeRecorded: number[];
  appendBurst: number[];
  postBurst: number[];
  appendIdle: number[];
  postIdle: number[];
}

export async function hotPathSection(options: { quick: boolean; tmp: string }): Promise<{ hot: Section; scalingRows: Row[]; scalingMethod: string }> {
  const engine = await startEngine(join(options.tmp, "hot-path"));
  const sink = await startBenchWorker("./post_sink_worker.ts", { type: "init" });
  try {
    const hot = await measureHotPath(engine, sink, options.quick);
    const { rows: scalingRows, method: scalingMethod } = await measureScaling(engine, options.quick);
    return { hot, scalingRows, scalingMethod };
  } finally {
    await sink.terminate();
    await engine.close();
  }
}

/**
 * Copies of frames as the recorder hands them over: built by concatenation, so
 * V8 holds them as ropes that the first reader (encodeInto, the structured
 * clone) must flatten. Measuring on already-flat strings would flatter both.
 */
function unflattened(frames: string[]): string[] {
  return frames.map((f) => f.slice(0, 1) + f.slice(1));
}

async function syncSink(sink: BenchWorker): Promise<void> {
  sink.post({ type: "sync" });
  await sink.next("synced");
}

async function measureHotPath(engine: Engine, sink: BenchWorker, quick: boolean): Promise<Section> {
  const rounds = quick ? 2 : 6;
  const sessionsPerRound = quick ? 1 : 6;
  const idleSamplesPerRound = quick ? 20 : 80;
  const ks = keystrokes(200);
  const overhead = timerOverheadNs();
  const s: Samples = { sanitizeEncode: [], hash: [], renderOnly: [], keystrokeRecorded: [], appendBurst: [], postBurst: [], appendIdle: [], postIdle: [] };

  // Round 0 warms the JIT up and is thrown away.
  for (let round = 0; round <= rounds; round++) {
    const r: Samples = { sanitizeEncode: [], hash: [], renderOnly: [], keystrokeRecorded: [], appendBurst: [], postBurst: [], appendIdle: [], postIdle: [] };
    for (let session = 0; session < sessionsPerRound; session++) {
      // sanitize + encode: the recorder writing to a log that only keeps the frames.
      const capture = new CaptureLog();
      const rec = startRecording(capture.asLog(), ks[0]);
      const t = Date.now();
      for (let i = 1; i < ks.length; i++) {
        const t0 = now();
        recordKeystroke(rec, ks[i], t + i * 150);
        const t1 = now();
        r.sanitizeEncode.push(((t1 - t0) * 1e6 - overhead) / 2);
      }
      const endFrame = frame(rec.id, FrameKind.end, 30_000, "", "0");

      // The append and the message per event, back to back, alternating which goes
      // first; each gets its own copy of the frames, unflattened as the recorder makes them.
      const appendAll = () => {
        const frames = unflattened(capture.frames);
        for (let i = 0; i + BATCH <= frames.length; i += BATCH) {
          const t0 = now();
          for (let j = i; j < i + BATCH; j++) engine.log.append(rec.id, frames[j]);
          const t1 = now();
          r.appendBurst.push(((t1 - t0) * 1e6 - overhead) / BATCH);
        }
        for (let i = frames.length - (frames.length % BATCH); i < frames.length; i++) engine.log.append(rec.id, frames[i]);
        engine.log.append(rec.id, endFrame);
      };
      const postAll = async () => {
        const frames = unflattened(capture.frames);
        for (let i = 0; i + BATCH <= frames.length; i += BATCH) {
          const t0 = now();
          for (let j = i; j < i + BATCH; j++) sink.post(frames[j]);
          const t1 = now();
          r.postBurst.push(((t1 - t0) * 1e6 - overhead) / BATCH);
        }
        await syncSink(sink);
      };
      if ((round + session) % 2 === 0) {
        appendAll();
        await postAll();
      } else {
        await postAll();
        appendAll();
      }
      await engine.log.drainOverflow();

      // A whole keystroke with and without the recorder, alternating per keystroke.
      const live = startRecording(engine.log, ks[0]);
      for (let i = 1; i < ks.length; i++) {
        const k = ks[i];
        const plain = () => {
          const t0 = now();
          renderSignup(k.props);
          r.renderOnly.push((now() - t0) * 1e6 - overhead);
        };
        const recorded = () => {
          const t0 = now();
          const html = renderSignup(k.props);
          const hash = fidelityHash(html, FIDELITY_KEY, true, true);
          recordKeystroke(live, { ...k, hash }, t + i * 150);
          r.keystrokeRecorded.push((now() - t0) * 1e6 - overhead);
        };
        if (i % 2) {
          plain();
          recorded();
        } else {
          recorded();
          plain();
        }
        // The hash of a fresh render, as the recorder gets it (not yet flattened).
        const fresh = renderSignup(k.props);
        const t0 = now();
        fidelityHash(fresh, FIDELITY_KEY, true, true);
        r.hash.push((now() - t0) * 1e6 - overhead);
      }
      live.end();
    }

    // A lightly loaded server: a keystroke every 3 ms, the event loop idle in
    // between. Each keystroke is rendered and encoded, then its two frames are
    // appended (or posted, every other keystroke) and timed: colder caches than
    // back to back, and any per-frame wake-up of the worker shows here.
    const capture = new CaptureLog();
    const rec = startRecording(capture.asLog(), ks[0]);
    engine.log.append(rec.id, capture.frames[0]);
    engine.log.append(rec.id, capture.frames[1]);
    for (let i = 1; i <= idleSamplesPerRound; i++) {
      await sleep(3);
      const k = ks[i % ks.length];
      renderSignup(k.props);
      recordKeystroke(rec, k, Date.now());
      const [event, render] = capture.frames.slice(-2);
      if (i % 2) {
        const t0 = now();
        engine.log.append(rec.id, event);
        engine.log.append(rec.id, render);
        r.appendIdle.push(((now() - t0) * 1e6 - overhead) / 2);
      } else {
        const t0 = now();
        sink.post(event);
        sink.post(render);
        r.postIdle.push(((now() - t0) * 1e6 - overhead) / 2);
      }
    }
    engine.log.append(rec.id, frame(rec.id, FrameKind.end, 30_000, "", "0"));
    await syncSink(sink);
    await engine.log.drainOverflow();
    if (round > 0) for (const key of Object.keys(s) as (keyof Samples)[]) s[key].push(...r[key]);
  }
  await engine.host.request({ type: "flush" });

  const m = (k: keyof Samples) => median(s[k]);
  const q = (k: keyof Samples) => p99(s[k]);
  const renderBaseline = { label: "render, no recorder", value: m("renderOnly"), p99: q("renderOnly") };
  const appendRows = (key: "Burst" | "Idle", label: string, postLabel: string): Row[] => {
    const value = m(`append${key}`);
    const post = m(`post${key}`);
    const baseline = { label: postLabel, value: post, p99: q(`post${key}`) };
    const id = key === "Burst" ? "hot.append" : "hot.appendIdle";
    return [
      row({ id, label, value, p99: q(`append${key}`), unit: "ns", baseline, target: { text: "≤ 250 ns", met: value <= 250 } }),
      row({
        id: `${id}.vsMessage`,
        label: `${label}, against a message`,
        value,
        unit: "ns",
        baseline,
        target: { text: "≥ 4× cheaper (≤ 0.25×)", met: post / value >= 4 },
      }),
    ];
  };
  const rows: Row[] = [
    row({ id: "hot.sanitizeEncode", label: "sanitize + encode, per event", value: m("sanitizeEncode"), p99: q("sanitizeEncode"), unit: "ns", baseline: renderBaseline }),
    row({ id: "hot.hash", label: "fidelity hash of the fresh HTML, per render", value: m("hash"), p99: q("hash"), unit: "ns", baseline: renderBaseline }),
    ...appendRows("Burst", "append, back to back (EventLog.append)", "(a) postMessage per event"),
    ...appendRows("Idle", "append, a keystroke every 3 ms (lightly loaded)", "(a) postMessage, same"),
    row({
      id: "hot.keystroke",
      label: "keystroke: render + hash + sanitize + encode + 2 appends",
      value: m("keystrokeRecorded"),
      p99: q("keystrokeRecorded"),
      unit: "ns",
      baseline: { label: "(b) no recorder: render only", value: m("renderOnly"), p99: q("renderOnly") },
    }),
  ];
  const events = s.sanitizeEncode.length * 2;
  return {
    id: "hotPath",
    title: "2. Hot path — request-thread cost per recorded event (signup keystroke: 2 events)",
    method:
      `${events.toLocaleString("en-US")} events over ${rounds} interleaved rounds; medians (p99). Appends and messages are timed in batches of ${BATCH} (mean per call), ` +
      `everything else per call; the ring is drained by the real persistence worker (file storage, journal), the messages by a worker that counts them.`,
    rows,
    notes: [
      "The parts are timed in isolation, the keystroke as a whole right after its render (warmer caches): the parts need not add up to the whole.",
      "Lightly loaded: one keystroke every 3 ms with the event loop idle in between; each is rendered and encoded, then its two frames are appended " +
        "(or posted) and timed. Caches are colder than back to back, and any per-frame wake-up of the worker shows here (a message always wakes it).",
    ],
    details: {
      timerOverheadNs: overhead,
      samples: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.length])),
      postToAppendRatio: { burst: m("postBurst") / m("appendBurst"), idle: m("postIdle") / m("appendIdle") },
      recorderShareOfKeystroke: (m("keystrokeRecorded") - m("renderOnly")) / m("renderOnly"),
    },
  };
}

/** 7a. The same per-event cost for recordings of 100, 1,000 and 10,000 events. */
async function measureScaling(engine: Engine, quick: boolean): Promise<{ rows: Row[]; method: string }> {
  const sizes = [100, 1_000, 10_000];
  const eventsPerSize = quick ? 10_000 : 20_000;
  const rounds = quick ? 1 : 3;
  const ks = keystrokes(5_000);
  const overhead = timerOverheadNs();
  const samples = new Map<number, number[]>(sizes.map((n) => [n, []]));
  for (let round = 0; round <= rounds; round++) {
    const order = round % 2 ? [...sizes].reverse() : sizes;
    for (const n of order) {
      const perEvent: number[] = [];
      const keystrokesPerRecording = Math.floor((n - 1) / 2);
      for (let done = 0; done < eventsPerSize; done += keystrokesPerRecording * 2 + 1) {
        const rec = startRecording(engine.log, ks[0]);
        const t = Date.now();
        for (let i = 1; i <= keystrokesPerRecording; i++) {
          const t0 = now();
          recordKeystroke(rec, ks[i], t + i * 150);
          perEvent.push(((now() - t0) * 1e6 - overhead) / 2);
        }
        rec.end();
        await engine.log.drainOverflow();
        // Give the worker a moment, as the time between sessions would.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      if (round > 0) samples.get(n)!.push(...perEvent);
    }
  }
  await engine.host.request({ type: "flush" });
  const base = median(samples.get(100)!);
  const baseP99 = p99(samples.get(100)!);
  const events = (n: number) => (Math.floor((n - 1) / 2) * 2 + 1).toLocaleString("en-US");
  const rows: Row[] = sizes.map((n) => {
    const value = median(samples.get(n)!);
    return row({
      id: `scaling.hot.${n}`,
      label: `hot path per event, ${events(n)}-event recordings`,
      value,
      p99: p99(samples.get(n)!),
      unit: "ns",
      baseline: { label: `${events(100)}-event recordings`, value: base, p99: baseP99 },
      target: { text: "flat (≤ 1.5×)", met: value / base <= 1.5 },
    });
  });
  return {
    rows,
    method: `hot path: sanitize + encode + append per event (real ring and worker), ${eventsPerSize.toLocaleString("en-US")} events per size per round, ${rounds} interleaved rounds`,
  };
}
