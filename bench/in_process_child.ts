/**
 * Benchmark child process (not a test) for section 3b: one variant of the
 * signup app (variant_app.ts; same arguments as server.ts, then the warm-up
 * and measured request counts, then optionally the sessions and the pause
 * between a session's requests) driven through `app.fetch()` with Web
 * `Request` objects — as Deno.serve, Bun and edge runtimes hand them over —
 * by ten sessions at once (by default), each typing the 200-keystroke script
 * and leaving, exactly as section 3's load (request.ts `requests`). No sockets, no load
 * generator in the process: the figure is the app's own cost. Prints one JSON
 * line: CPU per request (all threads, by kind) and garbage collections,
 * including what the recorder deferred (flush, settle, flush).
 */

import process from "node:process";
import type { Request as LoadRequest } from "autocannon";
import { perRequest, requests } from "./request.ts";
import { sleep } from "./lib.ts";
import { countGc, threadCpu, variantApp } from "./variant_app.ts";

const [variant, dir, extra, warmText, measuredText, sessionsText = "10", paceText = "0"] = process.argv.slice(2);
const app = await variantApp(variant, dir === "-" ? undefined : dir, extra === "-" ? undefined : extra);
const gc = await countGc();
const SESSIONS = Number(sessionsText);
/** Milliseconds each session waits between its requests; 0: the next turn of the event loop. */
const PACE_MS = Number(paceText);
const script = requests("signup");

/** One browser session: its own cookie jar (autocannon's context), going round the script. */
async function session(context: Record<string, unknown>, next: () => boolean, failures: { count: number }) {
  let step = 0;
  while (next()) {
    // The script starts again: a new session, as autocannon starts a new context.
    if (step === 0) for (const key of Object.keys(context)) delete context[key];
    const template = script[step];
    step = (step + 1) % script.length;
    const r = (template.setupRequest ? template.setupRequest({ ...template }, context) : template) as LoadRequest;
    const res = await app.fetch(new Request(`http://127.0.0.1${r.path}`, { method: r.method, headers: r.headers as Record<string, string>, body: r.body as string | undefined }));
    const body = await res.text();
    if (res.status >= 300) failures.count++;
    template.onResponse?.(res.status, body, context, { "set-cookie": res.headers.getSetCookie() });
    // A server turns the event loop between requests (socket I/O); without it the recorder's
    // timers (the sweep that ends left recordings) would not run until the load stopped.
    await new Promise((resolve) => (PACE_MS ? setTimeout(resolve, PACE_MS) : setImmediate(resolve)));
  }
}

async function load(amount: number): Promise<number> {
  let started = 0;
  const failures = { count: 0 };
  await Promise.all(Array.from({ length: SESSIONS }, () => session({}, () => started++ < amount, failures)));
  return failures.count;
}

await load(Number(warmText));
await app.flush();
const measured = Number(measuredText);
const cpu0 = process.cpuUsage();
const threads0 = threadCpu();
const gc0 = gc();
const failed = await load(measured);
await app.flush();
await sleep(300); // the sweep (every 50 ms here) ends the recordings the last beacons left
await app.flush();
const cpu1 = process.cpuUsage(cpu0);
const threads1 = threadCpu();
const gc1 = gc();
const per = (after: number, before: number) => (after - before) / measured;
console.log(JSON.stringify({
  variant,
  pid: process.pid,
  failed,
  cpuMicrosPerRequest: (cpu1.user + cpu1.system) / measured,
  threadsPerRequest: perRequest(threads1, threads0, measured),
  gcPer1000: gc0 && gc1 ? { minor: per(gc1.minor, gc0.minor) * 1000, major: per(gc1.major, gc0.major) * 1000, pauseMicrosPerRequest: per(gc1.pauseMs, gc0.pauseMs) * 1000 } : undefined,
}));
await app.close();
process.exit(0);
