/**
 * Shared pieces of the benchmarks: statistics, timers, result rows, table and
 * markdown rendering, child processes in the current runtime, a virtual clock.
 */

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { cpus, freemem, platform, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { isDeno } from "../worker/mod.ts";

export const root = fileURLToPath(new URL("..", import.meta.url));

// ---------- statistics ----------

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export const median = (values: number[]) => quantile(values, 0.5);
export const p99 = (values: number[]) => quantile(values, 0.99);
export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
export const mean = (values: number[]) => sum(values) / values.length;

/** A deterministic pseudo-random generator (mulberry32), so every run replays the same script. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------- timers ----------

/** Milliseconds, sub-microsecond resolution on Node and Deno. */
export const now = () => performance.now();

/** Median cost of an empty timer pair, in ns: subtracted from batch timings. */
export function timerOverheadNs(): number {
  const samples: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t0 = performance.now();
    const t1 = performance.now();
    samples.push((t1 - t0) * 1e6);
  }
  return median(samples);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets the V8 collector run when the runtime was started with --expose-gc. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---------- result rows ----------

export interface Figure {
  value: number;
  unit: string;
  /** A second statistic shown next to the value, e.g. the p99 of a median. */
  p99?: number;
}

export interface Row {
  /** Stable key, e.g. "hot.append.median". */
  id: string;
  label: string;
  value: number;
  unit: string;
  p99?: number;
  baseline?: { label: string; value: number; unit?: string; p99?: number };
  /** value / baseline.value (or the ratio the row defines, see ratioLabel). */
  ratio?: number;
  ratioLabel?: string;
  target?: { text: string; met: boolean };
}

export interface Section {
  id: string;
  title: string;
  /** How it was measured, one sentence or two. */
  method: string;
  rows: Row[];
  notes: string[];
  /** Section-specific raw data for the JSON file. */
  details?: Record<string, unknown>;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  runtime: string;
}

export interface Results {
  version: 1;
  date: string;
  mode: "full" | "quick";
  command: string;
  machine: Machine;
  durationSeconds: number;
  sections: Section[];
  targets: { id: string; label: string; value: string; target: string; met: boolean }[];
}

export function row(r: Row): Row {
  if (r.ratio === undefined && r.baseline && r.baseline.value !== 0) r.ratio = r.value / r.baseline.value;
  return r;
}

export function machine(): Machine {
  const list = cpus();
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno;
  return {
    cpu: list[0]?.model?.trim() || "unknown",
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    runtime: isDeno ? `Deno ${deno.version.deno} (V8 ${deno.version.v8})` : `Node ${process.version} (V8 ${process.versions.v8})`,
  };
}

// ---------- formatting ----------

export function fmtNumber(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const d = digits ?? (abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
  return value.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function fmt(value: number, unit: string): string {
  switch (unit) {
    case "ns":
      if (value >= 10_000) return fmtNumber(value / 1000) + " µs";
      return fmtNumber(value) + " ns";
    case "ms":
      if (value < 1) return fmtNumber(value * 1000) + " µs";
      return fmtNumber(value) + " ms";
    case "B":
      if (value >= 10 * 1024 * 1024) return fmtNumber(value / 1024 / 1024) + " MiB";
      if (value >= 100 * 1024) return fmtNumber(value / 1024) + " KiB";
      return fmtNumber(value, 0) + " B";
    case "B/event":
      return fmtNumber(value, 1) + " B/event";
    case "x":
      return fmtNumber(value, 2) + "×";
    case "%":
      return fmtNumber(value, 1) + " %";
    default:
      return fmtNumber(value) + (unit ? " " + unit : "");
  }
}

function valueText(value: number, unit: string, p99v?: number): string {
  return p99v === undefined ? fmt(value, unit) : `${fmt(value, unit)} (p99 ${fmt(p99v, unit)})`;
}

export function ratioText(r: Row): string {
  if (r.ratio === undefined) return "—";
  return fmtNumber(r.ratio, r.ratio >= 100 ? 0 : r.ratio >= 10 ? 1 : 2) + "×" + (r.ratioLabel ? " " + r.ratioLabel : "");
}

function cells(r: Row): string[] {
  const baseline = r.baseline
    ? `${r.baseline.label}: ${valueText(r.baseline.value, r.baseline.unit ?? r.unit, r.baseline.p99)}`
    : "—";
  const status = r.target ? `${r.target.text} ${r.target.met ? "met" : "MISSED"}` : "";
  return [r.label, valueText(r.value, r.unit, r.p99), baseline, ratioText(r), status];
}

const HEAD = ["figure", "value", "baseline (same run)", "ratio", "target"];

export function renderText(results: Results): string {
  const out: string[] = [];
  out.push(`hono-replay benchmarks (${results.mode}) — ${results.date}`);
  out.push(`${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.os}, ${results.machine.runtime}`);
  out.push(`command: ${results.command}   (took ${fmtNumber(results.durationSeconds, 0)} s)`);
  for (const s of results.sections) {
    out.push("");
    out.push(`${s.title}`);
    out.push(`  ${s.method}`);
    const table = [HEAD, ...s.rows.map(cells)];
    const widths = HEAD.map((_, i) => Math.max(...table.map((r) => r[i].length)));
    const line = (r: string[]) => "  " + r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
    out.push(line(table[0]));
    out.push("  " + widths.map((w) => "-".repeat(w)).join("  "));
    for (const r of table.slice(1)) out.push(line(r));
    for (const n of s.notes) out.push(`  note: ${n}`);
  }
  out.push("");
  out.push("Targets");
  for (const t of results.targets) out.push(`  ${t.met ? "met   " : "MISSED"}  ${t.label}: ${t.value} (target ${t.target})`);
  return out.join("\n");
}

const md = (text: string) => text.replace(/\|/g, "\\|");

export function renderMarkdown(results: Results): string {
  const m = results.machine;
  const out: string[] = [];
  out.push(`### Benchmarks`);
  out.push("");
  out.push(
    `Measured ${results.date.slice(0, 10)} with \`${results.command}\` on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.os}, ${m.runtime}. ` +
      `Every baseline was measured in the same run, interleaved with the figure it is compared with; the ratios are what to read, the absolute numbers drift with the machine.`,
  );
  for (const s of results.sections) {
    out.push("");
    out.push(`**${md(s.title)}** — ${md(s.method)}`);
    out.push("");
    out.push(`| ${HEAD.join(" | ")} |`);
    out.push(`|${HEAD.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`);
    for (const r of s.rows) {
      const c = cells(r).map(md);
      if (r.target) c[4] = `${md(r.target.text)} ${r.target.met ? "✅" : "❌ missed"}`;
      out.push(`| ${c.join(" | ")} |`);
    }
    if (s.notes.length) {
      out.push("");
      for (const n of s.notes) out.push(`- ${md(n)}`);
    }
  }
  return out.join("\n") + "\n";
}

// ---------- child processes in the current runtime ----------

/**
 * The command that runs a bench child (`bench/<file>.ts`) in this runtime. Deno
 * runs the TypeScript. Node runs the JavaScript tsc builds from it (once per
 * bench run, `compiledChildren`), as the published package is built. Through
 * tsx the children measured tsx too. Its esbuild transform adds a `__name` call
 * to every function created per request. Each worker thread registers tsx
 * again, with a loader thread of its own whose collections counted as the
 * persistence worker's CPU.
 */
export function runtimeCommand(file: string, options: ChildOptions = {}): [string, string[]] {
  const v8Flags = [...(options.exposeGc ? ["--expose-gc"] : []), ...(options.v8Flags ?? [])];
  if (isDeno) {
    // deno-lint-ignore no-explicit-any
    const exec = (globalThis as any).Deno.execPath() as string;
    return [exec, ["run", "-A", "--quiet", ...(v8Flags.length ? [`--v8-flags=${v8Flags.join(",")}`] : []), file]];
  }
  const built = join(compiledChildren(), relative(root, file)).replace(/\.tsx?$/, ".js");
  return [process.execPath, [...v8Flags, "--require", join(root, "bench", "platform_threads.cjs"), built]];
}

export interface ChildOptions {
  exposeGc?: boolean;
  /** More V8 flags for the child (section 8: `--perf-basic-prof`, so JIT code has names). */
  v8Flags?: string[];
  /** A command the child runs under (valgrind). */
  under?: string[];
}

let compiledDir: string | undefined;

/**
 * Builds the children (bench/tsconfig.children.json) once per process, into a
 * folder of its own under node_modules/.cache (where their imports of hono and
 * preact resolve), removed when the process exits: two bench runs at once must
 * not load each other's half-written files, and nothing left from an earlier
 * build may stand in for a child that is no longer built.
 */
function compiledChildren(): string {
  if (compiledDir) return compiledDir;
  const cache = join(root, "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, "hono-replay-bench-"));
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
  writeFileSync(join(out, "package.json"), '{ "type": "module" }\n');
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const built = spawnSync(process.execPath, [tsc, "-p", join(root, "bench", "tsconfig.children.json"), "--outDir", out], { cwd: root, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`building the bench children with tsc failed:\n${built.stdout}${built.stderr}`);
  return (compiledDir = out);
}

export interface Child {
  /** The first line the child printed, parsed as JSON. */
  first: Promise<unknown>;
  /** Sends a command line and resolves with the next JSON line the child prints. */
  request(line: string): Promise<unknown>;
  /** Lines nobody asked for, and the exit code, once the child exits. */
  done: Promise<{ code: number | null; lines: unknown[]; stderr: string }>;
  send(line: string): void;
  kill(): void;
}

/**
 * Starts `bench/<file>` in this runtime; it talks JSON lines on stdout.
 * `under`: a command the runtime runs under (valgrind, for bench/instructions.ts).
 */
export function startChild(file: string, args: string[], options: ChildOptions = {}): Child {
  const [runtime, runtimeArgs] = runtimeCommand(fileURLToPath(new URL(file, import.meta.url)), options);
  const [cmd, ...argv] = [...(options.under ?? []), runtime, ...runtimeArgs];
  const child = spawn(cmd, [...argv, ...args], {
    cwd: root,
    env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let buffer = "";
  let stderr = "";
  const lines: unknown[] = [];
  const waiters: ((value: unknown) => void)[] = [];
  let resolveFirst!: (v: unknown) => void;
  let rejectFirst!: (e: Error) => void;
  const first = new Promise<unknown>((res, rej) => ((resolveFirst = res), (rejectFirst = rej)));
  let gotFirst = false;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const text = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!text.startsWith("{")) continue;
      const value = JSON.parse(text);
      if (!gotFirst) {
        gotFirst = true;
        resolveFirst(value);
      } else if (waiters.length) waiters.shift()!(value);
      else lines.push(value);
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<{ code: number | null; lines: unknown[]; stderr: string }>((resolve) => {
    child.on("close", (code) => {
      if (!gotFirst) rejectFirst(new Error(`bench child ${file} exited (${code}) before answering:\n${stderr}`));
      for (const w of waiters.splice(0)) w({ error: `exited (${code})`, stderr });
      resolve({ code, lines, stderr });
    });
  });
  child.on("error", (error) => rejectFirst(error));
  return {
    first,
    done,
    request: (line) => {
      const answer = new Promise<unknown>((resolve) => waiters.push(resolve));
      child.stdin.write(line + "\n");
      return answer;
    },
    send: (line) => child.stdin.write(line + "\n"),
    kill: () => child.kill("SIGKILL"),
  };
}

// ---------- virtual clock ----------

/**
 * Replaces Date.now in this thread while `fn` runs, so a scripted 30-second
 * session records its offsets without taking 30 seconds. The recorder reads
 * Date.now for every offset; the persistence worker has its own clock.
 */
export async function withVirtualClock<T>(start: number, fn: (clock: { set(t: number): void; get(): number }) => Promise<T>): Promise<T> {
  const real = Date.now;
  let current = start;
  Date.now = () => current;
  try {
    return await fn({ set: (t) => (current = t), get: () => current });
  } finally {
    Date.now = real;
  }
}
