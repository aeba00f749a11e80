/**
 * Benchmark child process (not a test): serves one variant of the signup app on
 * 127.0.0.1 with examples/demo/serve.ts and prints {"port":…} on stdout.
 *
 *   server.ts recorder <dir> [options]   the demo app, recording into fileStorage(<dir>);
 *                                        options: JSON of createReplay options (diagnostic variants)
 *   server.ts attached <dir> [options]   those routes (plain_app.tsx), unchanged, under
 *                                        app.use(replay.recorder()): recorded by attaching
 *   server.ts plain            the same routes without hono-replay
 *
 * Commands on stdin, one a line: "flush" waits until everything recorded so far
 * is drained and persisted; "cpu" prints the process's CPU time so far (all
 * threads, µs); "quit" (or stdin closing) closes the recorder and exits.
 */

import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { createDemoApp } from "../examples/demo/app.tsx";
import { SignupForm } from "../examples/demo/views.tsx";
import { createReplay } from "../mod.ts";
import { serve } from "../examples/demo/serve.ts";
import { fileStorage } from "../storage/mod.ts";
import { createPlainApp } from "./plain_app.tsx";

const [variant, dir, extra] = process.argv.slice(2);
// Threads that exist before the app is built: the main thread and V8's platform threads (garbage collection, compilation).
const platformThreads = new Set(threadIds());
let close = async () => {};
let flush = async () => {};
let fetch: (request: Request) => Response | Promise<Response>;
if (variant === "recorder") {
  const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir }), ...(extra ? JSON.parse(extra) : {}) });
  await replay.ready;
  fetch = app.fetch;
  flush = async () => void (await replay.flush());
  close = async () => {
    const started = performance.now();
    await replay.close();
    console.log(JSON.stringify({ closedMs: performance.now() - started, dropped: replay.engine.dropped, errors: replay.engine.recorderErrors }));
  };
} else if (variant === "attached") {
  const replay = createReplay({ storage: fileStorage({ path: dir }), views: { SignupForm }, ...(extra ? JSON.parse(extra) : {}) });
  await replay.ready;
  fetch = createPlainApp((app) => app.use(replay.recorder())).fetch;
  flush = async () => void (await replay.flush());
  close = async () => void (await replay.close());
} else if (variant === "plain") {
  fetch = createPlainApp().fetch;
} else {
  throw new Error(`unknown variant ${variant}`);
}
const server = await serve(fetch, 0);
console.log(JSON.stringify({ port: server.port, variant, pid: process.pid }));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  await close();
  process.exit(0);
};
process.stdin.setEncoding("utf8");
let pending = "";
process.stdin.on("data", (chunk: string) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const command = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (command === "flush") {
      void flush().then(() => console.log(JSON.stringify({ flushed: true })));
    } else if (command === "cpu") {
      const { user, system } = process.cpuUsage();
      console.log(JSON.stringify({ cpuMicros: user + system, threads: threadCpu() }));
    } else if (command === "quit") void stop();
  }
});
process.stdin.on("end", () => void stop());

/** Linux: the process's thread ids; elsewhere none (the breakdown is then left out). */
function threadIds(): string[] {
  try {
    return readdirSync("/proc/self/task");
  } catch {
    return [];
  }
}

/**
 * CPU µs so far by kind of thread (Linux, from each thread's schedstat): the
 * request thread, V8's platform threads (garbage collection mostly), and the
 * threads started since (the persistence worker and libuv's I/O pool).
 */
function threadCpu(): Record<"main" | "gcAndPlatform" | "workerAndIo", number> | undefined {
  const out = { main: 0, gcAndPlatform: 0, workerAndIo: 0 };
  const ids = threadIds();
  if (ids.length === 0) return undefined;
  for (const tid of ids) {
    let ns = 0;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const kind = tid === String(process.pid) ? "main" : platformThreads.has(tid) ? "gcAndPlatform" : "workerAndIo";
    out[kind] += ns / 1000;
  }
  return out;
}
