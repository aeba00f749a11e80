/**
 * Benchmark child process (not a test), started with --expose-gc: drives
 * `sessions` concurrent signup sessions of `keystrokes` validated keystrokes
 * each through app.request(), all of them still active at the end, and prints
 * the process's memory before and after (after a full GC) as one JSON line.
 *
 *   memory_child.ts recorder|plain <sessions> <keystrokes> <dir>
 *   memory_child.ts drainer <sessions> <keystrokes>
 *
 * "drainer" measures the persistence worker's share alone: the same sessions'
 * frames, read back from UTF-8 as the worker reads the ring, fed to the
 * worker's Drainer in this thread, where the heap can be measured after a GC.
 */

import process from "node:process";
import { createDemoApp } from "../examples/demo/app.tsx";
import { fileStorage } from "../storage/mod.ts";
import { gc, sleep } from "./lib.ts";
import { createPlainApp } from "./plain_app.tsx";
import { Drainer } from "../worker/drain.ts";
import { CaptureLog, keystrokes as makeKeystrokes, recordKeystroke, startRecording } from "./keystrokes.ts";
import { keystrokeForms, ScriptedBrowser, VALIDATE_HEADERS } from "./session.ts";

const [variant, sessionsArg, keystrokesArg, dir] = process.argv.slice(2);
const sessions = Number(sessionsArg);
const keystrokes = Number(keystrokesArg);

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage();
}

const before = await settle();
if (variant === "drainer") {
  const ks = makeKeystrokes(keystrokes + 1);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const drainer = new Drainer(() => {}, { maxChars: Infinity, maxAgeMs: Infinity });
  const ready = await settle();
  for (let i = 0; i < sessions; i++) {
    const capture = new CaptureLog();
    const rec = startRecording(capture.asLog(), ks[0]);
    for (let k = 1; k < ks.length; k++) recordKeystroke(rec, ks[k], rec.startedAt + k * 150);
    drainer.ingest(capture.frames.map((f) => decoder.decode(encoder.encode(f))));
  }
  const after = await settle();
  console.log(JSON.stringify({ variant, sessions, keystrokes, before, ready, after, active: drainer.size }));
  process.exit(0);
}
let app: { request(path: string, init?: RequestInit): Response | Promise<Response> };
let flush = async () => {};
let active = async () => 0;
if (variant === "recorder") {
  const demo = createDemoApp({ storage: fileStorage({ path: dir }) });
  await demo.replay.ready;
  app = demo.app;
  flush = async () => void (await demo.replay.flush());
  active = async () => (await demo.replay.store.listActive()).length;
} else {
  app = createPlainApp();
}
// Warm the app up with one session that is not counted, then measure from there.
const warm = new ScriptedBrowser(app);
await warm.send({ at: 0, method: "GET", path: "/signup" });
await flush();
const ready = await settle();

const forms = keystrokeForms(200);
const browsers = Array.from({ length: sessions }, () => new ScriptedBrowser(app));
for (const b of browsers) await b.send({ at: 0, method: "GET", path: "/signup" });
for (let k = 0; k < keystrokes; k++) {
  for (const b of browsers) {
    await b.send({ at: 0, method: "POST", path: "/signup/validate", form: forms[k % forms.length], headers: { ...VALIDATE_HEADERS } });
  }
}
await flush();
const after = await settle();
console.log(JSON.stringify({ variant, sessions, keystrokes, before, ready, after, active: await active() }));
process.exit(0);
