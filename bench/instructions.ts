/**
 * 8. Instructions per request — the request bench's load (3.), counted instead
 * of timed. Opt-in (`npm run bench -- --only=instructions`, several minutes):
 * each server child runs under valgrind's callgrind with instrumentation off;
 * autocannon warms it up, then instrumentation is switched on
 * (`callgrind_control -i on`) for the measured requests and what the recorder
 * deferred (flush, settle, flush), and off again. So start-up and warm-up are
 * left out, and one child per variant is enough.
 *
 * Why counted: on a shared machine the timed rows move by ±0.2 from run to
 * run, more than most single changes. What counts do not see — the kernel
 * (syscalls, context switches), what an instruction costs (cache misses) — the
 * timed rows do: read both.
 *
 * Why split by kind (self cost of each function, every thread): V8 compiles
 * optimized code on its platform threads, and under valgrind that compilation
 * lags so far behind the request thread that it is still running thousands of
 * requests in (about a third of the plain app's instructions after 3,000
 * requests, where natively it is done within the first second). Counted
 * together, it padded both sides of the ratio: the recorder's 1.55× was 1.62×
 * on the code that runs per request. So the rows say what is JIT compilation
 * (`v8::internal::compiler::`), what is garbage collection, what runs on the
 * request thread, and what on the other threads (the persistence worker, I/O):
 * the ratio to read is the one without compilation. The persistence worker
 * also runs a 10 ms poll, which valgrind's slowdown multiplies: its row is an
 * upper bound.
 *
 * Why by function too: a ratio says that a change cost something, not where.
 * The notes list the functions each recorded variant adds most, on the request
 * thread and on the others, with V8's generated code named (jit_names.ts), so
 * a regression is found from the bench output rather than a profiling session.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { JitNames, largestAdditions } from "./jit_names.ts";
import { row, type Row, type Section, sleep, startChild } from "./lib.ts";
import { requests, type Scenario, type Variant, VARIANTS } from "./request.ts";

/** One counted child: a server (variant_app.ts) under one scenario's load, and the child its ratios are against. */
interface Counting {
  key: string;
  label: string;
  args: (tmp: string) => string[];
  scenario: Scenario;
  baseline?: string;
}

const variant = (id: Variant, scenario: Scenario, key: string, baseline?: string): Counting => {
  const v = VARIANTS.find((x) => x.id === id)!;
  return { key, label: v.label, args: v.args, scenario, baseline };
};

/**
 * Counted two at a time (one child per core), in this order. The no-view
 * children load the request bench's GET /signup/checks (JSON) on recorded
 * sessions: what attaching costs where nothing is recorded. The cookie reader
 * is the plain app under a middleware that reads a cookie and awaits next(),
 * which is what any session middleware costs: the floor under that row and
 * under the sampled-out one. The recorder with fidelity off comes last: it
 * pairs with the cookie reader, so it adds no wall time.
 */
const COUNTED: Counting[] = [
  variant("plain", "signup", "plain"),
  variant("recorder", "signup", "recorder", "plain"),
  variant("attached", "signup", "attached", "plain"),
  variant("sampledOut", "signup", "sampledOut", "plain"),
  variant("plain", "noView", "noView.plain"),
  { ...variant("attached", "noView", "noView.attached", "noView.plain"), label: "route that renders no recorded view (GET /signup/checks, JSON), recorder attached" },
  { key: "noView.cookieReader", label: "the same route under a middleware that only reads a cookie", args: () => ["cookieReader"], scenario: "noView", baseline: "noView.plain" },
  // What the keyed per-frame fidelity hash costs (the recorder row less this one): a requirement
  // of its own, so the price of keeping it is measured rather than estimated.
  variant("noFidelity", "signup", "noFidelity", "plain"),
];

/** Instructions of one variant's measured requests, by kind, per request. */
interface Counted {
  total: number;
  compile: number;
  gc: number;
  requestThread: number;
  otherThreads: number;
}

/** Per request, by function (jit_names.ts), not GC or compilation: the request thread's, and the other threads' together. */
interface ByFunction {
  requestThread: Map<string, number>;
  otherThreads: Map<string, number>;
}

/** Functions listed in the notes for each recorded variant and thread kind, largest addition first. */
const LISTED = 8;

const KINDS: { key: keyof Counted; label: string }[] = [
  { key: "requestThread", label: "request thread (its JavaScript and native code, not GC or compilation)" },
  { key: "otherThreads", label: "other threads (persistence worker, I/O; not GC or compilation)" },
  { key: "gc", label: "garbage collection, all threads" },
  { key: "compile", label: "JIT compilation, all threads" },
];

/** Functions whose self cost is JIT compilation or garbage collection (V8's own C++). */
const COMPILE_FN = /v8::internal::compiler::|turboshaft|maglev/;
const GC_FN = /v8::internal::(?:Scavenger|Scavenge|MarkCompact|Marking|ConcurrentMarking|MinorMarkCompact|Sweeper|Heap::|Evacuat|PointersUpdating|RememberedSet|SlotSet|MemoryChunk|IncrementalMarking|GCTracer|MarkingVisitor|MainMarkingVisitor|ConcurrentMarkingVisitor|LocalHeap|ArrayBufferSweeper)|heap::base::|cppgc::/;

function callgrind(outDir: string): string[] {
  return ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes", `--callgrind-out-file=${outDir}/cg.%p`, "--dump-instr=no", "--compress-strings=no", "--compress-pos=no"];
}

/** Self cost per function of one callgrind output file (one thread). */
function selfCosts(text: string): Map<string, number> {
  const costs = new Map<string, number>();
  let fn = "";
  let skipCallCost = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) fn = line.slice(3);
    else if (line.startsWith("calls=")) skipCallCost = true; // the next cost line is the callee's inclusive cost
    else if (/^[0-9+*-]/.test(line)) {
      if (skipCallCost) {
        skipCallCost = false;
        continue;
      }
      const cost = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isFinite(cost)) costs.set(fn, (costs.get(fn) ?? 0) + cost);
    }
  }
  return costs;
}

/** Sums the per-thread files of one child: thread 1 is the request thread. */
function countFiles(outDir: string, requestsServed: number, names: JitNames): { counted: Counted; byFunction: ByFunction } {
  const out: Counted = { total: 0, compile: 0, gc: 0, requestThread: 0, otherThreads: 0 };
  const byFunction: ByFunction = { requestThread: new Map(), otherThreads: new Map() };
  for (const file of readdirSync(outDir)) {
    const thread = /-(\d+)$/.exec(file)?.[1];
    if (!thread) continue;
    for (const [fn, cost] of selfCosts(readFileSync(join(outDir, file), "utf8"))) {
      out.total += cost;
      if (COMPILE_FN.test(fn)) out.compile += cost;
      else if (GC_FN.test(fn)) out.gc += cost;
      else {
        const kind = Number(thread) === 1 ? "requestThread" : "otherThreads";
        out[kind] += cost;
        const name = names.name(fn);
        byFunction[kind].set(name, (byFunction[kind].get(name) ?? 0) + cost / requestsServed);
      }
    }
  }
  for (const key of Object.keys(out) as (keyof Counted)[]) out[key] /= requestsServed;
  return { counted: out, byFunction };
}

function additionsNote(label: string, kind: string, added: [string, number][]): string {
  const list = added.map(([name, n]) => `${name} +${(n / 1000).toFixed(1)} k`).join("; ");
  return `${label}, ${kind}, largest additions over the plain app (instructions a request): ${list}.`;
}

async function countRun({ key, args, scenario }: Counting, warmUp: number, measured: number, tmp: string): Promise<{ counted: Counted; byFunction: ByFunction }> {
  const outDir = join(tmp, `instructions-${key}-out`);
  mkdirSync(outDir, { recursive: true });
  const child = startChild("./server.ts", args(join(tmp, `instructions-${key}`)), { under: callgrind(outDir), v8Flags: ["--perf-basic-prof"] });
  const { port, pid } = (await child.first) as { port: number; pid: number };
  const load = async (amount: number) => {
    const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections: 10, amount, timeout: 120, requests: requests(scenario) });
    if (result.non2xx || result.errors) throw new Error(`instructions: ${result.non2xx + result.errors} of ${amount} requests failed (${key})`);
  };
  await load(warmUp);
  await child.request("flush");
  execFileSync("callgrind_control", ["--instr=on", String(pid)], { stdio: "ignore" });
  await load(measured);
  await child.request("flush");
  await sleep(300);
  await child.request("flush");
  execFileSync("callgrind_control", ["--instr=off", String(pid)], { stdio: "ignore" });
  child.send("quit");
  const { code, stderr } = await child.done;
  if (code !== 0) throw new Error(`instructions: the valgrind child for ${key} failed (${code}): ${stderr.slice(-2000)}`);
  return countFiles(outDir, measured, JitNames.ofChild(pid));
}

export async function instructionsSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const title = "8. Instructions per request — POST /signup/validate, counted with valgrind";
  const [warmUp, measured] = options.quick ? [200, 200] : [3_000, 2_000];
  const method =
    `The request bench's load (10 connections of 200-keystroke sessions) against one server child per variant under valgrind's callgrind: ` +
    `${warmUp} requests uninstrumented, then ${measured} counted (and the flush after them); user space, all threads, self cost of each function, split by kind.`;
  if (spawnSync("valgrind", ["--version"]).status !== 0 || spawnSync("callgrind_control", ["--version"]).status !== 0) {
    return { id: "instructions", title, method, rows: [], notes: ["valgrind (with callgrind_control) is not installed here: nothing counted."] };
  }
  const counted = new Map<string, Counted>();
  const byFunction = new Map<string, ByFunction>();
  // Two at a time: one child per core.
  for (let i = 0; i < COUNTED.length; i += 2) {
    const pair = COUNTED.slice(i, i + 2);
    const results = await Promise.all(pair.map((counting) => countRun(counting, warmUp, measured, options.tmp)));
    pair.forEach(({ key }, j) => {
      counted.set(key, results[j].counted);
      byFunction.set(key, results[j].byFunction);
    });
  }
  const rows: Row[] = [];
  for (const { key, label, baseline } of COUNTED) {
    if (!baseline) continue;
    const c = counted.get(key)!;
    const plain = counted.get(baseline)!;
    rows.push(row({ id: `instructions.${key}`, label: `instructions per request, ${label}, without JIT compilation`, value: c.total - c.compile, unit: "instr", baseline: { label: "no recorder", value: plain.total - plain.compile } }));
    rows.push(row({ id: `instructions.${key}.all`, label: `  all of them, compilation included`, value: c.total, unit: "instr", baseline: { label: "no recorder", value: plain.total } }));
    for (const kind of KINDS) {
      rows.push(row({ id: `instructions.${key}.${kind.key}`, label: `  of which ${kind.label}`, value: c[kind.key], unit: "instr", baseline: { label: "no recorder", value: plain[kind.key] } }));
    }
  }
  // Where a regression is: the functions each recorded variant adds, JIT code named (jit_names.ts).
  const notes = ["Opt-in: not part of the full run. Read next to section 3: no kernel time here. A row whose baseline is 0 (no worker without the recorder) has no ratio."];
  const additions: Record<string, Record<string, [string, number][]>> = {};
  for (const variant of ["recorder", "attached", "noView.attached", "noView.cookieReader"]) {
    const own = byFunction.get(variant)!;
    const base = byFunction.get(COUNTED.find((c) => c.key === variant)!.baseline!)!;
    additions[variant] = {};
    for (const [kind, text] of [["requestThread", "request thread"], ["otherThreads", "other threads"]] as const) {
      additions[variant][kind] = largestAdditions(own[kind], base[kind], 40);
      notes.push(additionsNote(variant, text, additions[variant][kind].slice(0, LISTED)));
    }
  }
  return { id: "instructions", title, method, rows, notes, details: { perRequest: Object.fromEntries(counted), largestAdditions: additions } };
}
