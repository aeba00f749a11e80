/**
 * 8. Instructions per request — the request bench's load (3.), counted instead
 * of timed. Opt-in (`npm run bench -- --only=instructions`, several minutes):
 * valgrind (cachegrind, no cache simulation) runs each server child, autocannon
 * sends it N1 requests, and a second child N2; the difference over N2 − N1 is
 * one request's user-space instructions, all threads, start-up excluded, what
 * the recorder deferred included (flush, settle, flush before it exits).
 *
 * Why: on a shared machine the timed rows move by ±0.2 from run to run, more
 * than most single changes; instruction counts move by up to ±4% (the JIT and
 * the collector still run on their own schedule), the ratio by about ±0.05. What they do not
 * see — the kernel (syscalls, context switches), what an instruction costs
 * (cache misses) — the timed rows do: read both. The JIT runs slower under
 * valgrind, so the persistence worker and V8's platform threads are not
 * weighed as they are natively; the request thread is.
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import autocannon from "autocannon";
import { row, type Row, type Section, sleep, startChild } from "./lib.ts";
import { requests, type Variant, VARIANTS } from "./request.ts";

const COUNTED: Variant[] = ["plain", "recorder", "attached", "sampledOut"];
const VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"];

/** User-space instructions of one server child that served `amount` requests (valgrind's total, start-up included). */
async function countRun(variant: Variant, amount: number, tmp: string): Promise<number> {
  const v = VARIANTS.find((x) => x.id === variant)!;
  const child = startChild("./server.ts", v.args(join(tmp, `instructions-${amount}`)), { under: VALGRIND });
  const { port } = (await child.first) as { port: number };
  const load = autocannon({ url: `http://127.0.0.1:${port}`, connections: 10, amount, timeout: 120, requests: requests("signup") });
  const result = await load;
  if (result.non2xx || result.errors) throw new Error(`instructions: ${result.non2xx + result.errors} of ${amount} requests failed (${variant})`);
  await child.request("flush");
  await sleep(300);
  await child.request("flush");
  child.send("quit");
  const { code, stderr } = await child.done;
  const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr)?.[1];
  if (code !== 0 || !refs) throw new Error(`instructions: the valgrind child for ${variant} failed (${code}): ${stderr.slice(-2000)}`);
  return Number(refs.replaceAll(",", ""));
}

export async function instructionsSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const title = "8. Instructions per request — POST /signup/validate, counted with valgrind";
  const [n1, n2] = options.quick ? [100, 300] : [1_000, 3_000];
  const method =
    `The request bench's load (10 connections of 200-keystroke sessions) against one server child under valgrind (cachegrind, no cache simulation) per run; ` +
    `${n1} and ${n2} requests in two children run side by side, per variant; (instructions(${n2}) − instructions(${n1})) / ${n2 - n1}: user space, all threads, start-up excluded.`;
  if (spawnSync("valgrind", ["--version"]).status !== 0) {
    return { id: "instructions", title, method, rows: [], notes: ["valgrind is not installed here: nothing counted."] };
  }
  const perRequest = new Map<Variant, number>();
  for (const variant of COUNTED) {
    const [a, b] = await Promise.all([countRun(variant, n1, options.tmp), countRun(variant, n2, options.tmp)]);
    perRequest.set(variant, (b - a) / (n2 - n1));
  }
  const plain = perRequest.get("plain")!;
  const rows: Row[] = COUNTED.filter((variant) => variant !== "plain").map((variant) =>
    row({
      id: `instructions.${variant}`,
      label: `instructions per request, ${VARIANTS.find((v) => v.id === variant)!.label}`,
      value: perRequest.get(variant)!,
      unit: "instr",
      baseline: { label: "no recorder", value: plain },
      ratio: perRequest.get(variant)! / plain,
    })
  );
  return { id: "instructions", title, method, rows, notes: ["Opt-in: not part of the full run. Read next to section 3: no kernel time here."] };
}
