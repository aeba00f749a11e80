/**
 * Runs the benchmark sections in order and assembles the results. `main.ts` is
 * the command line; the smoke test calls `runBench` directly.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drainSection } from "./drain.ts";
import { hotPathSection } from "./hot_path.ts";
import { idleSection } from "./idle.ts";
import { inProcessSection } from "./in_process.ts";
import { instructionsSection } from "./instructions.ts";
import { machine, renderMarkdown, type Results, type Section } from "./lib.ts";
import { memorySection } from "./memory.ts";
import { nativeSamplesSection } from "./native_samples.ts";
import { replaySection } from "./replay.ts";
import { requestSection } from "./request.ts";
import { sizeSection } from "./size.ts";

/** What a full run measures, in order. */
export const SECTIONS = ["size", "hotPath", "request", "inProcess", "replay", "drain", "memory", "idle", "scaling"] as const;
/** Sections that run only when named in `only` (valgrind, perf: minutes, and tools a machine may lack). */
export const OPT_IN_SECTIONS = ["instructions", "samples"] as const;
export type SectionId = (typeof SECTIONS)[number] | (typeof OPT_IN_SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Run only these sections (scaling runs with hotPath and replay). */
  only?: SectionId[];
  /** Where results.json and results.md go. */
  outDir: string;
  command: string;
  progress?: (line: string) => void;
}

export async function runBench(options: BenchOptions): Promise<Results> {
  const started = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), "hono-replay-bench-"));
  // Scaling is measured by the hot-path and replay sections.
  // Instruction counts (valgrind) and native samples (perf) run only when asked for by name.
  const wanted = (id: SectionId) =>
    ((OPT_IN_SECTIONS as readonly string[]).includes(id) ? !!options.only?.includes(id) : !options.only || options.only.includes(id)) ||
    ((id === "hotPath" || id === "replay") && !!options.only?.includes("scaling"));
  const progress = options.progress ?? (() => {});
  const sections: Section[] = [];
  const o = { quick: options.quick, tmp };
  const scaling: Section = { id: "scaling", title: "7. Scaling — cost per event as recordings grow", method: "", rows: [], notes: [] };
  const scalingMethods: string[] = [];
  try {
    if (wanted("size")) {
      progress("1. size…");
      sections.push(await sizeSection(o));
    }
    if (wanted("hotPath")) {
      progress("2. hot path (and 7. scaling of it)…");
      const { hot, scalingRows, scalingMethod } = await hotPathSection(o);
      sections.push(hot);
      scaling.rows.push(...scalingRows);
      scalingMethods.push(scalingMethod);
    }
    if (wanted("request")) {
      progress("3. request overhead under load…");
      sections.push(await requestSection(o));
    }
    if (wanted("inProcess")) {
      progress("3b. request overhead in-process…");
      sections.push(await inProcessSection(o));
    }
    if (wanted("replay")) {
      progress("4. replay (and 7. scaling of it)…");
      const { replay, scalingRows, scalingMethod } = await replaySection(o);
      sections.push(replay);
      scaling.rows.push(...scalingRows);
      scalingMethods.push(scalingMethod);
    }
    if (wanted("drain")) {
      progress("5. drain and persist…");
      sections.push(await drainSection(o));
    }
    if (wanted("memory")) {
      progress("6. memory…");
      sections.push(await memorySection(o));
    }
    if (wanted("idle")) {
      progress("9. idle…");
      sections.push(await idleSection(o));
    }
    if (wanted("instructions")) {
      progress("8. instructions per request (valgrind)…");
      sections.push(await instructionsSection(o));
    }
    if (wanted("samples")) {
      progress("8b. where the request thread's time goes (perf)…");
      sections.push(await nativeSamplesSection(o));
    }
    if (scaling.rows.length) {
      scaling.method = "The same work at three recording lengths, against the shortest: " + scalingMethods.join("; ") + ".";
      sections.push(scaling);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const results: Results = {
    version: 1,
    date: new Date().toISOString(),
    mode: options.quick ? "quick" : "full",
    command: options.command,
    machine: machine(),
    durationSeconds: (performance.now() - started) / 1000,
    sections,
    targets: sections.flatMap((s) =>
      s.rows.filter((r) => r.target).map((r) => ({
        id: r.id,
        label: `${s.title.split(" — ")[0]}: ${r.label}`,
        value: r.ratio !== undefined && r.unit !== "B" ? `${fmtValue(r.value, r.unit)}, ${r.ratio.toFixed(2)}× baseline` : fmtValue(r.value, r.unit),
        target: r.target!.text,
        met: r.target!.met,
      }))
    ),
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(join(options.outDir, "results.md"), renderMarkdown(results));
  return results;
}

function fmtValue(value: number, unit: string): string {
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}
