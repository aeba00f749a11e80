/**
 * Benchmark child process (not a test): the demo app with one recording
 * active and then no requests at all, and the CPU the whole process (every
 * thread) spends per second of that quiet, as one JSON line.
 *
 *   idle_child.ts plain|worker|inProcess <dir> <seconds>
 *
 * "worker": the recorder with fileStorage, its engine in the persistence
 * worker; "inProcess": with memoryStorage, its engine on the request thread;
 * "plain": the same routes without hono-replay, after the same two requests.
 */

import process from "node:process";
import { createDemoApp } from "../examples/demo/app.tsx";
import { fileStorage, memoryStorage } from "../storage/mod.ts";
import { sleep } from "./lib.ts";
import { createPlainApp } from "./plain_app.tsx";
import { keystrokeForms, ScriptedBrowser, VALIDATE_HEADERS } from "./session.ts";

const [variant, dir, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);

let app: { request(path: string, init?: RequestInit): Response | Promise<Response> };
let flush = async () => {};
let active = async () => 0;
let close = async () => {};
if (variant === "plain") {
  app = createPlainApp();
} else {
  const demo = createDemoApp({ storage: variant === "worker" ? fileStorage({ path: dir }) : memoryStorage() });
  await demo.replay.ready;
  app = demo.app;
  flush = async () => void (await demo.replay.flush());
  active = async () => (await demo.replay.store.listActive()).length;
  close = async () => void (await demo.replay.close());
}

// One session: the page and one validated keystroke, so its recording is active (and will be stored).
const browser = new ScriptedBrowser(app);
await browser.send({ at: 0, method: "GET", path: "/signup" });
await browser.send({ at: 0, method: "POST", path: "/signup/validate", form: keystrokeForms(1)[0], headers: { ...VALIDATE_HEADERS } });
await flush();
// Past the first segment's age (1 s) and what start-up left to do.
await sleep(1_500);
const activeRecordings = await active();
const from = process.cpuUsage();
const started = performance.now();
await sleep(seconds * 1_000);
const used = process.cpuUsage(from);
const elapsedS = (performance.now() - started) / 1_000;
console.log(JSON.stringify({ variant, activeRecordings, elapsedS, cpuMsPerS: (used.user + used.system) / 1_000 / elapsedS }));
await close();
process.exit(0);
