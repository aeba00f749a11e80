/**
 * 3. Request overhead: POST /signup/validate under load, the demo app with the
 * recorder against the same routes without it, each variant served by its own
 * child process on 127.0.0.1 (examples/demo/serve.ts), autocannon in this
 * process, rounds alternating between the variants. The attached variant is
 * the plain app's own handlers under `app.use(replay.recorder())`: what an app
 * that adopted hono-replay with one line pays (the demo records through
 * `c.var.replay.render`). Two diagnostic variants (fidelity off; sampled out,
 * i.e. the middleware without recording) show where the overhead goes; the CPU
 * time each server process spent per request is the figure that does not
 * depend on how many cores the machine has.
 */

import { join } from "node:path";
import autocannon, { type Request as LoadRequest } from "autocannon";
import { issueSid } from "../recorder/session_cookie.ts";
import { type Child, median, p99, quantile, row, type Row, type Section, sleep, startChild } from "./lib.ts";
import { keystrokeForms } from "./session.ts";
import type { ThreadCpu } from "./variant_app.ts";

export type Variant = "plain" | "recorder" | "attached" | "noFidelity" | "sampledOut";

/** The keystroke sessions, or a JSON route of the same app that renders no recorded view. */
export type Scenario = "signup" | "noView";

interface Round {
  variant: Variant;
  scenario: Scenario;
  /** The offered load when fixed (autocannon's overallRate); undefined: as fast as the server answers. */
  rate?: number;
  rps: number;
  latencies: number[];
  cpuMicrosPerRequest: number;
  /** The same by kind of thread (Linux only): where a regression is. */
  threadsPerRequest?: ThreadCpu;
  non2xx: number;
  errors: number;
}

const CONNECTIONS = 10;
/** After a round, the time given to work the recorder deferred (sweeps run every 50 ms here), counted in that round. */
const SETTLE_MS = 300;

/**
 * The beacon ends a recording at the next sweep (every 50 ms with no grace)
 * rather than 5 s later, so each round pays for finalizing the sessions it
 * recorded instead of passing that work on to the next variant's round.
 */
/** Session ids are signed: the load generator signs its own with the servers' secret, as the server would. */
const BENCH_SECRET = "bench-request-secret-0123456789abcdef";
const ENDING = { beaconGraceMs: 0, secret: BENCH_SECRET };

export const VARIANTS: { id: Variant; label: string; args: (tmp: string) => string[] }[] = [
  { id: "plain", label: "no recorder", args: () => ["plain"] },
  { id: "recorder", label: "with recorder", args: (tmp) => ["recorder", join(tmp, "request-recorder"), JSON.stringify(ENDING)] },
  { id: "attached", label: "with recorder attached (handlers unchanged)", args: (tmp) => ["attached", join(tmp, "request-attached"), JSON.stringify(ENDING)] },
  { id: "noFidelity", label: "with recorder, fidelity off", args: (tmp) => ["recorder", join(tmp, "request-nohash"), JSON.stringify({ ...ENDING, fidelity: false })] },
  // The plain app's own handlers under the recorder: the baseline's code plus the middleware, nothing else.
  { id: "sampledOut", label: "recorder installed, session sampled out", args: (tmp) => ["attached", join(tmp, "request-sampled"), JSON.stringify({ ...ENDING, sampleRate: 0 })] },
];

/**
 * Each connection is a browser session typing the 200-keystroke script, leaving
 * the page (the pagehide beacon, which ends the recording), then a new session
 * with a new cookie. Like a browser, it sends back the cookie the server last
 * set (the recording's entry and request counter), starting from a signed sid.
 */
export function requests(scenario: Scenario): LoadRequest[] {
  const withCookie = (request: LoadRequest, context: Record<string, unknown>) => {
    context.cookie ??= `hono_replay=${issueSid(BENCH_SECRET)}`;
    return { ...request, headers: { ...request.headers, cookie: context.cookie as string } };
  };
  const keepCookie = (_status: number, _body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() !== "set-cookie") continue;
      for (const line of Array.isArray(value) ? value : [value]) {
        const cookie = /^hono_replay=[^;]*/.exec(line)?.[0];
        if (cookie) context.cookie = cookie;
      }
    }
  };
  // A session that is recorded (sampled in), asking a route that renders no view: what attaching costs there.
  // (autocannon starts a new context each time it starts the list again: the sessions are picked from a few, not issued per request.)
  if (scenario === "noView") {
    const sessions = Array.from({ length: CONNECTIONS }, () => `hono_replay=${issueSid(BENCH_SECRET)}`);
    let next = 0;
    const asSession = (request: LoadRequest) => ({ ...request, headers: { ...request.headers, cookie: sessions[next++ % sessions.length] } });
    return [{ method: "GET", path: "/signup/checks", headers: {}, setupRequest: asSession }];
  }
  return [
    ...keystrokeForms(200).map((form) => ({
      method: "POST",
      path: "/signup/validate",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-replay-event": "validate" },
      body: new URLSearchParams(form).toString(),
      setupRequest: withCookie,
      onResponse: keepCookie,
    })),
    { method: "POST", path: "/__replay/leave", headers: {}, body: "", setupRequest: withCookie, onResponse: keepCookie },
  ];
}


async function cpuMicros(child: Child): Promise<{ cpuMicros: number; threads?: ThreadCpu }> {
  return (await child.request("cpu")) as { cpuMicros: number; threads?: ThreadCpu };
}

/** CPU per request by kind of thread between two readings (undefined without /proc). */
export function perRequest(after: ThreadCpu | undefined, before: ThreadCpu | undefined, requests: number): ThreadCpu | undefined {
  if (!after || !before) return undefined;
  const n = Math.max(1, requests);
  return { main: (after.main - before.main) / n, gcAndPlatform: (after.gcAndPlatform - before.gcAndPlatform) / n, workerAndIo: (after.workerAndIo - before.workerAndIo) / n };
}

async function load(child: Child, port: number, seconds: number, variant: Variant, scenario: Scenario = "signup", rate?: number): Promise<Round> {
  const latencies: number[] = [];
  const cpuBefore = await cpuMicros(child);
  const started = performance.now();
  const instance = autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration: seconds, requests: requests(scenario), ...(rate ? { overallRate: rate } : {}) });
  instance.on("response", (_client, status, _bytes, ms) => {
    if (status < 300) latencies.push(ms);
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  // What the recorder still owes for these requests (drain, compress, save) counts too, including
  // the recordings the sweep ends just after the load stops (the pagehide beacons of the last sessions).
  await child.request("flush");
  await sleep(SETTLE_MS);
  await child.request("flush");
  const cpuAfter = await cpuMicros(child);
  return {
    variant,
    scenario,
    rate,
    rps: latencies.length / elapsed,
    latencies,
    cpuMicrosPerRequest: (cpuAfter.cpuMicros - cpuBefore.cpuMicros) / Math.max(1, latencies.length),
    threadsPerRequest: perRequest(cpuAfter.threads, cpuBefore.threads, latencies.length),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** The overhead issue's targets: CPU per request against the plain app's, all threads, persistence included. */
const CPU_TARGETS: Partial<Record<Variant | "noView", number>> = { recorder: 1.3, sampledOut: 1.05, noView: 1.02 };

const THREAD_KINDS = [
  ["main", "request thread"],
  ["workerAndIo", "persistence worker + I/O threads"],
  ["gcAndPlatform", "GC and V8 platform threads"],
] as const;

/** What `threadRows` reads of a round (section 3) or a child's run (section 3b). */
type ThreadMeasure = Pick<Round, "cpuMicrosPerRequest" | "threadsPerRequest">;

/**
 * CPU per request by kind of thread, medians over the rounds (Linux only): the
 * first place to look at a regression. `section` prefixes the rows' ids.
 */
export function threadRows(section: string, variant: Variant, rounds: ThreadMeasure[], plain: ThreadMeasure[]): Row[] {
  if (!rounds.every((r) => r.threadsPerRequest) || !plain.every((r) => r.threadsPerRequest)) return [];
  return THREAD_KINDS.map(([kind, label]) => {
    const value = median(rounds.map((r) => r.threadsPerRequest![kind]));
    // The plain app has no persistence worker: that row is set against the plain app's whole CPU per request.
    const alone = kind === "workerAndIo";
    const baseline = alone ? median(plain.map((r) => r.cpuMicrosPerRequest)) : median(plain.map((r) => r.threadsPerRequest![kind]));
    return row({
      id: `${section}.${variant}.cpu.${kind}`,
      label: `  of which ${label}`,
      value,
      unit: "µs",
      baseline: { label: alone ? "no recorder, all threads" : "no recorder", value: baseline },
    });
  });
}

/** GET /signup/checks (JSON) on a recorded session, the plain app with and without the recorder: attaching where nothing is rendered. */
function noViewRows(measured: Round[]): Row[] {
  const of = (v: Variant) => measured.filter((r) => r.variant === v && r.scenario === "noView");
  const cpu = median(of("attached").map((r) => r.cpuMicrosPerRequest));
  const plainCpu = median(of("plain").map((r) => r.cpuMicrosPerRequest));
  const target = CPU_TARGETS.noView!;
  return [
    row({
      id: "request.noView.cpu",
      label: "server CPU per request (all threads), route that renders no recorded view (GET /signup/checks, JSON)",
      value: cpu,
      unit: "µs",
      baseline: { label: "no recorder", value: plainCpu },
      ratio: cpu / plainCpu,
      target: { text: `≤ ${target.toFixed(2)}×`, met: cpu / plainCpu <= target },
    }),
  ];
}

/**
 * The same sessions at a fixed offered load that every variant serves with room
 * to spare. Under the load above, each variant runs as fast as it can, so the
 * plain app serves nearly twice the requests per second and gets more of them
 * per event-loop turn and per system call: its CPU per request is measured at
 * another load than the recorder's. Here all of them answer the same requests
 * per second, as a production server below capacity does.
 */
const FIXED_RPS = 2_000;

function fixedRateRows(measured: Round[]): Row[] {
  const of = (v: Variant) => measured.filter((r) => r.variant === v && r.rate === FIXED_RPS);
  const plain = of("plain");
  if (plain.length === 0) return [];
  const plainCpu = median(plain.map((r) => r.cpuMicrosPerRequest));
  const plainP99 = p99(plain.flatMap((r) => r.latencies));
  const rows: Row[] = [];
  for (const v of VARIANTS.slice(1)) {
    const rs = of(v.id);
    rows.push(row({ id: `request.${v.id}.fixed.cpu`, label: `at ${FIXED_RPS.toLocaleString("en-US")} req/s: server CPU per request (all threads), ${v.label}`, value: median(rs.map((r) => r.cpuMicrosPerRequest)), unit: "µs", baseline: { label: "no recorder, same load", value: plainCpu } }));
    if (v.id === "recorder") {
      rows.push(row({ id: `request.${v.id}.fixed.p99`, label: `at ${FIXED_RPS.toLocaleString("en-US")} req/s: latency p99, ${v.label}`, value: p99(rs.flatMap((r) => r.latencies)), unit: "ms", baseline: { label: "no recorder, same load", value: plainP99 } }));
    }
  }
  return rows;
}

export async function requestSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const roundSeconds = options.quick ? 0.6 : 2.5;
  const rounds = options.quick ? 2 : 8;
  const fixedRounds = options.quick ? 1 : 3;
  const warmSeconds = options.quick ? 0.4 : 2;
  const children = new Map<Variant, Child>(VARIANTS.map((v) => [v.id, startChild("./server.ts", v.args(options.tmp))]));
  const measured: Round[] = [];
  let shutdown: unknown;
  try {
    const ports = new Map<Variant, number>();
    for (const [id, child] of children) ports.set(id, ((await child.first) as { port: number }).port);
    for (const v of VARIANTS) await load(children.get(v.id)!, ports.get(v.id)!, warmSeconds, v.id);
    for (let i = 0; i < rounds; i++) {
      // Alternate the order, so that no variant always runs first after a pause.
      const order = i % 2 ? [...VARIANTS].reverse() : VARIANTS;
      for (const v of order) {
        measured.push(await load(children.get(v.id)!, ports.get(v.id)!, roundSeconds, v.id));
        await sleep(150);
      }
      for (const id of (i % 2 ? ["attached", "plain"] : ["plain", "attached"]) as Variant[]) {
        measured.push(await load(children.get(id)!, ports.get(id)!, roundSeconds, id, "noView"));
        await sleep(150);
      }
    }
    for (let i = 0; i < fixedRounds; i++) {
      const order = i % 2 ? [...VARIANTS].reverse() : VARIANTS;
      for (const v of order) {
        measured.push(await load(children.get(v.id)!, ports.get(v.id)!, roundSeconds, v.id, "signup", FIXED_RPS));
        await sleep(150);
      }
    }
  } finally {
    const quitting = [...children.values()].map((c) => (c.send("quit"), c.done));
    const done = await Promise.all(quitting);
    shutdown = done[1]?.lines[0];
    for (const d of done) if (d.code !== 0) throw new Error(`server child failed (${d.code}): ${d.stderr}`);
  }
  const of = (v: Variant) => measured.filter((r) => r.variant === v && r.scenario === "signup" && r.rate === undefined);
  const plain = of("plain");
  const plainLat = plain.flatMap((r) => r.latencies);
  const rows: Row[] = [];
  for (const v of VARIANTS.slice(1)) {
    const rs = of(v.id);
    const lat = rs.flatMap((r) => r.latencies);
    // Pair round i of each variant: the machine's drift cancels out.
    const paired = median(rs.map((r, i) => r.rps / plain[i].rps));
    const p99Ratio = p99(lat) / p99(plainLat);
    const main = v.id === "recorder";
    const cpu = median(rs.map((r) => r.cpuMicrosPerRequest));
    const plainCpu = median(plain.map((r) => r.cpuMicrosPerRequest));
    const cpuTarget = CPU_TARGETS[v.id];
    rows.push(
      row({
        id: `request.${v.id}.cpu`,
        label: `server CPU per request (all threads), ${v.label}`,
        value: cpu,
        unit: "µs",
        baseline: { label: "no recorder", value: plainCpu },
        ratio: cpu / plainCpu,
        target: cpuTarget ? { text: `≤ ${cpuTarget.toFixed(2)}×`, met: cpu / plainCpu <= cpuTarget } : undefined,
      }),
      ...threadRows("request", v.id, rs, plain),
      row({
        id: `request.${v.id}.rps`,
        label: `throughput, ${v.label}`,
        value: median(rs.map((r) => r.rps)),
        unit: "req/s",
        baseline: { label: "no recorder", value: median(plain.map((r) => r.rps)) },
        ratio: paired,
        ratioLabel: "(paired rounds)",
      }),
      row({
        id: `request.${v.id}.p50`,
        label: `latency p50, ${v.label}`,
        value: quantile(lat, 0.5),
        unit: "ms",
        baseline: { label: "no recorder", value: quantile(plainLat, 0.5) },
      }),
      row({
        id: `request.${v.id}.p99`,
        label: `latency p99, ${v.label}`,
        value: p99(lat),
        unit: "ms",
        baseline: { label: "no recorder", value: p99(plainLat) },
        ratio: p99Ratio,
        target: main ? { text: "≤ 1.15×", met: p99Ratio <= 1.15 } : undefined,
      }),
    );
  }
  rows.push(...noViewRows(measured), ...fixedRateRows(measured));
  const failures = measured.reduce((n, r) => n + r.non2xx + r.errors, 0);
  const notes: string[] = [];
  if (failures) notes.push(`${failures} requests failed or were not 2xx.`);
  return {
    id: "request",
    title: "3. Request overhead — POST /signup/validate under load",
    method:
      `autocannon (${CONNECTIONS} connections, each a session typing the 200-keystroke script, then the pagehide beacon, then a new session) against examples/demo/serve.ts on 127.0.0.1, ` +
      `one child process per variant, run from the JavaScript tsc builds (recorder: defaults, fileStorage, beaconGraceMs 0); ${rounds} rounds of ${roundSeconds} s per variant, alternating, after a ${warmSeconds} s warm-up. ` +
      `Baseline: the same routes and views rendered with renderToString, no hono-replay (bench/plain_app.tsx). ` +
      `The attached, sampled-out and no-view rows run the plain app's own handlers under app.use(replay.recorder()), so that they differ from the baseline by the recorder alone (the demo app also serves the dashboard, islands and more routes). ` +
      `Each round also loads GET /signup/checks (JSON, no view) on the plain app and on it under the recorder, with a recorded session's cookie. ` +
      `Then ${fixedRounds} rounds of the sessions at a fixed ${FIXED_RPS} req/s per variant (autocannon's overallRate: the same load for all). ` +
      `CPU: the server process, all threads, including draining and persisting what the round recorded (replay.flush(), ${SETTLE_MS} ms for the last sweep, flush again); by kind of thread from /proc/self/task/*/schedstat.`,
    rows,
    notes,
    details: {
      rounds: measured.map(({ latencies, ...r }) => ({ ...r, requests: latencies.length, p50: quantile(latencies, 0.5), p99: p99(latencies) })),
      recorderShutdown: shutdown,
    },
  };
}
