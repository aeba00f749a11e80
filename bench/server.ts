/**
 * Benchmark child process (not a test): serves one variant of the signup app
 * (variant_app.ts: `server.ts recorder|attached <dir> [options]`, `server.ts
 * plain`) on 127.0.0.1 with examples/demo/serve.ts and prints {"port":…} on
 * stdout.
 *
 * Commands on stdin, one a line: "flush" waits until everything recorded so far
 * is drained and persisted; "cpu" prints the process's CPU time so far (all
 * threads, µs, and by kind of thread); "quit" (or stdin closing) closes the
 * recorder and exits.
 */

import process from "node:process";
import { serve } from "../examples/demo/serve.ts";
import { threadCpu, variantApp } from "./variant_app.ts";

const [variant, dir, extra] = process.argv.slice(2);
const { fetch, flush, close } = await variantApp(variant, dir, extra);
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
