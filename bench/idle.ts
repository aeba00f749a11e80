/**
 * 9. Idle — what a quiet server pays for the recorder: one recording active (a
 * session that loaded the page and typed once) and then no requests. Each
 * variant's process CPU per second, every thread, against the same app
 * without the recorder in the same run. What it pins: the persistence loop
 * sleeps while no frame comes (worker/loop_wait.ts) — polling every 25 ms
 * cost several ms a second, on the request thread for the in-process engine.
 */

import { join } from "node:path";
import { median, row, type Section, startChild } from "./lib.ts";

type Variant = "plain" | "worker" | "inProcess";

interface Run {
  variant: Variant;
  activeRecordings: number;
  elapsedS: number;
  cpuMsPerS: number;
}

async function run(variant: Variant, dir: string, seconds: number): Promise<Run> {
  const child = startChild("./idle_child.ts", [variant, dir, String(seconds)]);
  const result = (await child.first) as Run;
  const done = await child.done;
  if (done.code !== 0) throw new Error(`idle child failed (${done.code}): ${done.stderr}`);
  return result;
}

export async function idleSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const seconds = options.quick ? 1 : 5;
  const rounds = options.quick ? 1 : 3;
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternating order, a fresh process each.
    const order: Variant[] = round % 2 ? ["inProcess", "worker", "plain"] : ["plain", "worker", "inProcess"];
    for (const variant of order) runs.push(await run(variant, join(options.tmp, `idle-${variant}-${round}`), seconds));
  }
  const of = (variant: Variant) => median(runs.filter((r) => r.variant === variant).map((r) => r.cpuMsPerS));
  const baseline = { label: "no recorder", value: of("plain"), unit: "ms/s" };
  const active = Math.min(...runs.filter((r) => r.variant !== "plain").map((r) => r.activeRecordings));
  return {
    id: "idle",
    title: "9. Idle — one recording active, no requests",
    method:
      `The demo app in a fresh process per variant and round: GET /signup and one validated keystroke (a recording active), flush(), 1.5 s, ` +
      `then process CPU (all threads, process.cpuUsage) over ${seconds} s without requests; ${rounds} round(s), alternating order; medians. ` +
      `Baseline: the same routes without hono-replay (bench/plain_app.tsx), after the same two requests.`,
    rows: [
      row({ id: "idle.worker", label: "CPU per second, persistence worker (fileStorage)", value: of("worker"), unit: "ms/s", baseline }),
      row({ id: "idle.inProcess", label: "CPU per second, engine in-process (memoryStorage)", value: of("inProcess"), unit: "ms/s", baseline }),
    ],
    notes: [
      `Recordings active while measured: ${active} (at least one in every recorder run). ` +
        "A ratio against a process that does nothing is large by nature: read the ms a second.",
    ],
    details: { runs },
  };
}
