/**
 * 3b. Request overhead in-process: section 3's sessions driven through
 * `app.fetch()` with Web `Request` objects (in_process_child.ts), one fresh
 * child process per variant and round. What it adds to section 3: no sockets
 * and no load generator in the measured process, so what is left is the app's
 * own cost and the recorder's (read the two sections together: the recorder's
 * extra µs are fewer here than over HTTP); requests as Deno.serve, Bun and
 * edge runtimes deliver them (real `Request`/`Response` objects, where
 * @hono/node-server passes lighter ones); and the request thread's
 * collector pauses and major collections.
 *
 * The driver turns the event loop between a session's requests, as a server
 * does: answered through promise chains alone, the load never let the
 * recorder's sweep run (so no recording ended, and the first flush finalized
 * all of them inside the measured window), and it changed how long requests
 * stayed reachable for the young-generation collector.
 */

import { median, row, type Row, type Section, startChild } from "./lib.ts";
import { threadRows, type Variant, VARIANTS } from "./request.ts";
import type { ThreadCpu } from "./variant_app.ts";

const MEASURED: Variant[] = ["plain", "recorder", "attached", "sampledOut"];

interface Run {
  variant: Variant;
  failed: number;
  cpuMicrosPerRequest: number;
  threadsPerRequest?: ThreadCpu;
  gcPer1000?: { minor: number; major: number; pauseMicrosPerRequest: number };
}

/** How the sessions go: how many at once, and the pause between a session's requests (0: none). */
export interface Load {
  sessions: number;
  paceMs: number;
}

/** Section 3's: ten sessions, each request as soon as the last one answered. */
const BACK_TO_BACK: Load = { sessions: 10, paceMs: 0 };
/**
 * The pace people type at: many sessions, a request every 200 ms each. Every
 * active recording then writes a segment every few seconds (worker/drain.ts
 * stretches the age past 50 recordings) holding a few requests, so what the
 * worker does per recording and per segment weighs on each request.
 */
const TYPING: Load = { sessions: 200, paceMs: 200 };

/** in_process_child.ts's arguments for `variant` recording into `dir` (section 8b runs the same child under perf). */
export function inProcessChildArgs(variant: Variant, dir: string, warmUp: number, measured: number, load: Load = BACK_TO_BACK): string[] {
  const [name, store = "-", extra = "-"] = VARIANTS.find((x) => x.id === variant)!.args(dir);
  return [name, store, extra, String(warmUp), String(measured), String(load.sessions), String(load.paceMs)];
}

async function runChild(variant: Variant, tmp: string, round: string, warmUp: number, measured: number, load: Load = BACK_TO_BACK): Promise<Run> {
  const child = startChild("./in_process_child.ts", inProcessChildArgs(variant, `${tmp}/in-process-${round}`, warmUp, measured, load));
  const result = (await child.first) as Run;
  const { code, stderr } = await child.done;
  if (code !== 0) throw new Error(`in-process child ${variant} failed (${code}): ${stderr.slice(-2000)}`);
  if (result.failed) throw new Error(`in-process child ${variant}: ${result.failed} requests failed`);
  return result;
}

/** The median over the runs, or undefined when a run lacks the figure (no /proc, no gc entries). */
function med(rs: Run[], pick: (r: Run) => number | undefined): number | undefined {
  const values = rs.map(pick).filter((x): x is number => x !== undefined);
  return values.length === rs.length ? median(values) : undefined;
}

/** The request thread's collector pauses and major collections (Node only; a count the baseline never reached has no ratio and is left out). */
function gcRows(variant: Variant, rs: Run[], plain: Run[]): Row[] {
  const rows: Row[] = [];
  const pause = med(rs, (r) => r.gcPer1000?.pauseMicrosPerRequest);
  const plainPause = med(plain, (r) => r.gcPer1000?.pauseMicrosPerRequest);
  if (pause !== undefined && plainPause) {
    rows.push(row({ id: `inProcess.${variant}.gc.pause`, label: "  garbage collection pauses (request thread)", value: pause, unit: "µs", baseline: { label: "no recorder", value: plainPause } }));
  }
  const major = med(rs, (r) => r.gcPer1000?.major);
  const plainMajor = med(plain, (r) => r.gcPer1000?.major);
  if (major !== undefined && plainMajor) {
    rows.push(row({ id: `inProcess.${variant}.gc.major`, label: "  major collections", value: major, unit: "per 1,000 requests", baseline: { label: "no recorder", value: plainMajor } }));
  }
  return rows;
}

export async function inProcessSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const rounds = options.quick ? 1 : 3;
  const [warmUp, measured] = options.quick ? [1_000, 1_000] : [6_000, 12_000];
  const runs: Run[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? [...MEASURED].reverse() : MEASURED;
    for (const variant of order) runs.push({ ...(await runChild(variant, options.tmp, String(i), warmUp, measured)), variant });
  }
  const typing = await typingRuns(options);
  const of = (v: Variant) => runs.filter((r) => r.variant === v);
  const plain = of("plain");
  const rows: Row[] = [];
  for (const variant of MEASURED.slice(1)) {
    const rs = of(variant);
    const label = VARIANTS.find((v) => v.id === variant)!.label;
    rows.push(row({ id: `inProcess.${variant}.cpu`, label: `CPU per request (all threads), ${label}`, value: med(rs, (r) => r.cpuMicrosPerRequest)!, unit: "µs", baseline: { label: "no recorder", value: med(plain, (r) => r.cpuMicrosPerRequest)! } }));
    rows.push(...threadRows("inProcess", variant, rs, plain));
    rows.push(...gcRows(variant, rs, plain));
  }
  rows.push(...typingRows(typing));
  return {
    id: "inProcess",
    title: "3b. Request overhead in-process — the same sessions through app.fetch()",
    method:
      `Section 3's sessions (10 at once, each the 200-keystroke script, the pagehide beacon, a new session) driven through app.fetch() with Web Request objects by the child process itself (bench/in_process_child.ts), the event loop turning between requests (setImmediate), ` +
      `a fresh child per variant and round: ${warmUp} requests of warm-up, then ${measured} measured, with what the recorder deferred (flush, 300 ms, flush); ${rounds} rounds, alternating order; medians. ` +
      `CPU: the child, all threads, by kind of thread from /proc/self/task/*/schedstat; collections from a PerformanceObserver (Node). ` +
      `Then at the pace people type: ${TYPING.sessions} sessions at once, each pausing ${TYPING.paceMs} ms between requests (about 1,000 requests a second in all), the plain app and the attached recorder, ${typing.rounds} rounds of ${typing.warmUp} + ${typing.measured} requests.`,
    rows,
    notes: [
      "At the pace people type, each recording's segments hold a few requests rather than hundreds: the persistence worker's row shows what that costs. On a filesystem where creating files is slow (this VM's ext4) it weighs several times what it does on tmpfs.",
    ],
    details: { runs, typing: typing.runs },
  };
}

/** The plain app and the attached recorder under TYPING, alternating. */
async function typingRuns(options: { quick: boolean; tmp: string }) {
  const rounds = options.quick ? 1 : 2;
  const [warmUp, measured] = options.quick ? [400, 800] : [3_000, 12_000];
  const runs: Run[] = [];
  for (let i = 0; i < rounds; i++) {
    const order: Variant[] = i % 2 ? ["attached", "plain"] : ["plain", "attached"];
    for (const variant of order) runs.push({ ...(await runChild(variant, options.tmp, `typing-${i}`, warmUp, measured, TYPING)), variant });
  }
  return { runs, rounds, warmUp, measured };
}

function typingRows({ runs }: { runs: Run[] }): Row[] {
  const plain = runs.filter((r) => r.variant === "plain");
  const attached = runs.filter((r) => r.variant === "attached");
  return [
    row({
      id: "inProcess.typing.attached.cpu",
      label: `at the pace people type: CPU per request (all threads), ${VARIANTS.find((v) => v.id === "attached")!.label}`,
      value: med(attached, (r) => r.cpuMicrosPerRequest)!,
      unit: "µs",
      baseline: { label: "no recorder, same pace", value: med(plain, (r) => r.cpuMicrosPerRequest)! },
    }),
    ...threadRows("inProcess.typing", "attached", attached, plain),
  ];
}
