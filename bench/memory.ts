/**
 * 6. Memory: 1,000 concurrent signup sessions of about 100 events each, all
 * still active, in a fresh process per variant (--expose-gc): the demo app with
 * the recorder (persistence worker, fileStorage) and the same routes without it.
 * The growth of the process's RSS (both threads) and of the request thread's
 * heap, per active recording, net of the no-recorder run, and the heap the
 * persistence worker's Drainer holds for the same recordings (measured alone,
 * where a GC can be forced), against the size of the frames a recording holds.
 */

import { join } from "node:path";
import { CaptureLog, keystrokes as makeKeystrokes, recordKeystroke, startRecording } from "./keystrokes.ts";
import { row, type Section, startChild } from "./lib.ts";

interface Run {
  variant: string;
  sessions: number;
  keystrokes: number;
  ready: NodeJS.MemoryUsage;
  after: NodeJS.MemoryUsage;
  active: number;
}

async function run(variant: "recorder" | "plain" | "drainer", sessions: number, keystrokes: number, dir: string): Promise<Run> {
  const child = startChild("./memory_child.ts", [variant, String(sessions), String(keystrokes), dir], { exposeGc: true });
  const result = (await child.first) as Run;
  const done = await child.done;
  if (done.code !== 0) throw new Error(`memory child failed (${done.code}): ${done.stderr}`);
  return result;
}

/** The frames one such recording puts in the ring (UTF-8 bytes). */
function frameBytes(keystrokes: number): number {
  const ks = makeKeystrokes(keystrokes + 1);
  const capture = new CaptureLog();
  const rec = startRecording(capture.asLog(), ks[0]);
  for (let i = 1; i < ks.length; i++) recordKeystroke(rec, ks[i], rec.startedAt + i * 150);
  const encoder = new TextEncoder();
  return capture.frames.reduce((n, f) => n + encoder.encode(f).length, 0);
}

export async function memorySection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const sessions = options.quick ? 100 : 1_000;
  const keystrokes = 49; // mount + 49 × (event + render) = 99 events
  const plain = await run("plain", sessions, keystrokes, join(options.tmp, "memory-plain"));
  const recorder = await run("recorder", sessions, keystrokes, join(options.tmp, "memory-recorder"));
  const drainer = await run("drainer", sessions, keystrokes, "");
  const grow = (r: Run, key: "rss" | "heapUsed") => (r.after[key] - r.ready[key]) / r.sessions;
  const data = frameBytes(keystrokes);
  const events = 1 + 2 * keystrokes;
  const rssNet = grow(recorder, "rss") - grow(plain, "rss");
  const heapNet = grow(recorder, "heapUsed") - grow(plain, "heapUsed");
  const dataBaseline = { label: "its frames (UTF-8)", value: data };
  return {
    id: "memory",
    title: `6. Memory — ${sessions.toLocaleString("en-US")} concurrent sessions × ${events} events, all active`,
    method:
      `A fresh process per variant (--expose-gc), ${sessions.toLocaleString("en-US")} sessions driven round-robin through app.request() so all are active at once, ` +
      `then flush() and a full GC; growth from after start-up, per recording, net of the same traffic on the app without the recorder.`,
    rows: [
      row({ id: "memory.rss", label: "RSS per active recording (process, both threads)", value: rssNet, unit: "B", baseline: dataBaseline }),
      row({ id: "memory.heap", label: "request-thread heap per active recording", value: heapNet, unit: "B", baseline: dataBaseline }),
      row({
        id: "memory.workerHeap",
        label: "persistence worker's heap per active recording (its Drainer, measured alone)",
        value: grow(drainer, "heapUsed"),
        unit: "B",
        baseline: dataBaseline,
      }),
    ],
    notes: [
      `Without the recorder the same traffic grew RSS by ${Math.round(grow(plain, "rss"))} B and the heap by ${Math.round(grow(plain, "heapUsed"))} B per session; ` +
        `with it, the process held ${(recorder.after.rss / 2 ** 20).toFixed(0)} MiB RSS for ${recorder.active.toLocaleString("en-US")} active recordings ` +
        `(no recorder: ${(plain.after.rss / 2 ** 20).toFixed(0)} MiB). The worker's heap is in the RSS, not in the request thread's heap.`,
    ],
    details: { plain, recorder, drainer, frameBytesPerRecording: data },
  };
}
