/**
 * 8b. Where the request thread's time goes, natively — section 3b's child
 * (in_process_child.ts, back to back) under `perf record`, one per variant, its
 * request thread's samples counted by function. Opt-in
 * (`npm run bench -- --only=samples`, about a minute; needs perf, which needs
 * root or a low `perf_event_paranoid`).
 *
 * Why beside section 8: instructions are not time. A cost that is few
 * instructions but slow ones (a cache miss, a write barrier's slow path, a
 * hash table probe) shows here and barely there: young vnodes inserted into old
 * weak sets cost the attached request about 6 µs here and 11 k instructions
 * there. Samples are noisy where counts are not (one sample is 25 ns a request
 * at these settings: read differences under 0.3 µs as nothing), so the two are
 * read together.
 *
 * The whole child is sampled, warm-up and start-up included, and divided by
 * every request it served: the figures are for where time goes, not for ratios
 * (section 3b has those). JIT code is named from the map `--perf-basic-prof`
 * makes V8 write; the map is removed once perf has read it.
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { inProcessChildArgs } from "./in_process.ts";
import { largestAdditions, readable, withoutParameters } from "./jit_names.ts";
import { row, type Row, type Section, startChild } from "./lib.ts";
import { type Variant, VARIANTS } from "./request.ts";

const SAMPLED: Variant[] = ["plain", "recorder", "attached"];
const FREQUENCY = 1999;
/** Functions listed in the notes for each recorded variant. */
const LISTED = 12;

/** Samples by function on one process's request thread (its pid is its first thread's id), and their total. */
export interface ThreadSamples {
  total: number;
  byFunction: Map<string, number>;
}

/**
 * Counts `perf script -F pid,tid,ip,sym,dso -G` output: one line a sample,
 * `<pid>/<tid> <ip> <symbol> (<dso>)`; samples of other threads are left out.
 */
export function requestThreadSamples(script: string): ThreadSamples {
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const line of script.split("\n")) {
    const sample = /^\s*(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
    if (!sample || sample[1] !== sample[2]) continue;
    const name = functionName(sample[3], sample[4]);
    byFunction.set(name, (byFunction.get(name) ?? 0) + 1);
    total++;
  }
  return { total, byFunction };
}

/** A sample's function as section 8 names it: JIT code without its tier or column, C++ without parameters, the unknown by its library. */
function functionName(symbol: string, dso: string): string {
  if (symbol === "[unknown]") return `[unknown] ${dso.replace(/.*\//, "")}`;
  if (symbol.startsWith("RegExp:")) return symbol.length > 50 ? symbol.slice(0, 49) + "…" : symbol; // its source has parentheses
  return symbol.startsWith("JS:") ? readable(symbol) : withoutParameters(symbol);
}

async function sampleRun(variant: Variant, tmp: string, warmUp: number, measured: number): Promise<ThreadSamples> {
  const out = join(tmp, `samples-${variant}.data`);
  mkdirSync(tmp, { recursive: true });
  const perf = ["perf", "record", "-q", "-F", String(FREQUENCY), "-o", out, "--"];
  const child = startChild("./in_process_child.ts", inProcessChildArgs(variant, join(tmp, `samples-${variant}`), warmUp, measured), { under: perf, v8Flags: ["--perf-basic-prof"] });
  const { pid, failed } = (await child.first) as { pid?: number; failed: number };
  const { code, stderr } = await child.done;
  if (code !== 0) throw new Error(`samples: the perf child for ${variant} failed (${code}): ${stderr.slice(-2000)}`);
  if (failed) throw new Error(`samples: ${failed} requests of the ${variant} child failed`);
  const script = spawnSync("perf", ["script", "-i", out, "-F", "pid,tid,ip,sym,dso", "-G"], { encoding: "utf8", maxBuffer: 1 << 30 });
  rmSync(out, { force: true });
  if (pid) rmSync(`/tmp/perf-${pid}.map`, { force: true });
  if (script.status !== 0) throw new Error(`samples: perf script failed for ${variant}: ${script.stderr.slice(-2000)}`);
  return requestThreadSamples(script.stdout);
}

/** perf runs here and may sample a child (root, or perf_event_paranoid low enough). */
function perfWorks(): boolean {
  const probe = spawnSync("perf", ["record", "-q", "-F", "99", "-o", "/dev/null", "--", process.execPath, "-e", "0"], { encoding: "utf8" });
  return probe.status === 0;
}

export async function nativeSamplesSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const title = "8b. Where the request thread's time goes — section 3b's child under perf";
  const [warmUp, measured] = options.quick ? [400, 800] : [4_000, 16_000];
  const served = warmUp + measured;
  const method =
    `Section 3b's back-to-back sessions, one child per variant under perf record at ${FREQUENCY} Hz, ${warmUp} + ${measured} requests; ` +
    `the request thread's samples by function over the whole child (start-up and warm-up included), per request served.`;
  if (!perfWorks()) return { id: "samples", title, method, rows: [], notes: ["perf is not installed here, or may not sample (perf_event_paranoid): nothing sampled."] };
  const samples = new Map<Variant, ThreadSamples>();
  for (const variant of SAMPLED) samples.set(variant, await sampleRun(variant, join(options.tmp, "samples"), warmUp, measured));
  const perRequest = (count: number) => (count * 1e6) / FREQUENCY / served; // µs a request
  const plain = samples.get("plain")!;
  const rows: Row[] = [];
  const notes = ["Opt-in. One sample is about 25 ns a request here: differences under 0.3 µs are noise. Ratios belong to section 3b; these say where."];
  const additions: Record<string, [string, number][]> = {};
  for (const variant of SAMPLED.filter((v) => v !== "plain")) {
    const own = samples.get(variant)!;
    const label = VARIANTS.find((v) => v.id === variant)!.label;
    rows.push(row({ id: `samples.${variant}`, label: `request thread sampled, a request, ${label}`, value: perRequest(own.total), unit: "µs", baseline: { label: "no recorder", value: perRequest(plain.total) } }));
    additions[variant] = largestAdditions(own.byFunction, plain.byFunction, 40).map(([name, n]) => [name, perRequest(n)]);
    const list = additions[variant].slice(0, LISTED).map(([name, us]) => `${name} +${us.toFixed(2)} µs`).join("; ");
    notes.push(`${variant}, request thread, largest additions over the plain app (µs a request): ${list}.`);
  }
  return { id: "samples", title, method, rows, notes, details: { largestAdditions: additions } };
}
