/**
 * Child of tests/flood.test.ts: the demo app with its real persistence worker
 * on file storage, flooded through `app.request()` by cookieless visitors (each
 * a new session). Prints `RESULT {…}`: the resident memory the flood added
 * (after garbage collection), the statuses, how many sessions were recorded
 * and capped. Runs with --expose-gc.
 */

import process from "node:process";
import { createDemoApp } from "../examples/demo/app.tsx";
import { fileStorage } from "../storage/mod.ts";
import { testHooks } from "../internal.ts";

const visitors = Number(process.env.FLOOD_VISITORS ?? 30_000);
const options = JSON.parse(process.env.FLOOD_OPTIONS ?? "{}");
const { app, replay } = createDemoApp({ storage: fileStorage({ path: process.env.FLOOD_DIR! }), ...options });
await replay.ready;
const gc = (globalThis as { gc?: () => void }).gc;
const hooks = testHooks(replay);
if (!gc) throw new Error("run with --expose-gc (Node) or --v8-flags=--expose-gc (Deno)");

// Not replay.flush(): that would write every held recording to the store, which is
// exactly what a flood must not cause. The worker drains the ring by itself within its poll.
const settle = async () => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (let i = 0; i < 2; i++) {
    hooks.gcWorker();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
// Warm up the runtime (code, caches, the worker's first batches), so the growth measured is the flood's.
const warmUp = Number(process.env.FLOOD_WARM_UP ?? 500);
for (let i = 0; i < warmUp; i++) await (await app.request("/signup")).text();
await settle();
const before = process.memoryUsage().rss;
const statuses: Record<number, number> = {};
for (let i = 0; i < visitors; i++) {
  const res = await app.request("/signup");
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  await res.text();
}
await settle();
const grownMiB = (process.memoryUsage().rss - before) / 1048576;
console.log("RESULT " + JSON.stringify({ grownMiB, statuses, capped: replay.engine.capped, dropped: replay.engine.dropped }));
await replay.close();
