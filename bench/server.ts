/**
 * Benchmark child process (not a test): serves one variant of the signup app on
 * 127.0.0.1 with examples/demo/serve.ts and prints {"port":…} on stdout.
 *
 *   server.ts recorder <dir> [options]   the demo app, recording into fileStorage(<dir>);
 *                                        options: JSON of createReplay options (diagnostic variants)
 *   server.ts plain            the same routes without hono-replay
 *
 * Commands on stdin, one a line: "flush" waits until everything recorded so far
 * is drained and persisted; "cpu" prints the process's CPU time so far (all
 * threads, µs); "quit" (or stdin closing) closes the recorder and exits.
 */

import process from "node:process";
import { createDemoApp } from "../examples/demo/app.tsx";
import { serve } from "../examples/demo/serve.ts";
import { fileStorage } from "../storage/mod.ts";
import { createPlainApp } from "./plain_app.tsx";

const [variant, dir, extra] = process.argv.slice(2);
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
} else if (variant === "plain") {
  fetch = createPlainApp().fetch;
} else {
  throw new Error(`unknown variant ${variant}`);
}
const server = await serve(fetch, 0);
console.log(JSON.stringify({ port: server.port, variant }));

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
      console.log(JSON.stringify({ cpuMicros: user + system }));
    } else if (command === "quit") void stop();
  }
});
process.stdin.on("end", () => void stop());
