/**
 * 1. Size on disk: the scripted 30-second signup session, recorded through the
 * real middleware of the demo app (persistence worker, file storage), under a
 * virtual clock; both formats, with and without the fidelity hashes.
 */

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { unzlibSync } from "fflate";
import { createDemoApp } from "../examples/demo/app.tsx";
import type { Format } from "../format/mod.ts";
import { fileStorage } from "../storage/mod.ts";
import { row, type Row, type Section } from "./lib.ts";
import { playScript, ScriptedBrowser, signupScript } from "./session.ts";

/** The reference design stores such a session in about 8 KB; the target is half. */
export const REFERENCE_BYTES = 8 * 1024;
export const TARGET_BYTES = 4 * 1024;

interface Measured {
  format: Format;
  fidelity: boolean;
  events: number;
  bytes: number;
  uncompressed: number;
  indexEntry: number;
  html: number;
  identical?: number;
  frames: number;
}

/**
 * One recording of the script; with `instances` > 1, that many demo apps share
 * the storage directory and the requests go to each in turn (a load balancer
 * without sticky sessions), so every render is a snapshot of a frame another
 * instance may not have seen.
 */
async function recordOnce(dir: string, format: Format, fidelity: boolean, instances = 1): Promise<Measured> {
  // Instances sharing a store share the secret that signs session ids.
  const demos = Array.from({ length: instances }, () => createDemoApp({ storage: fileStorage({ path: dir }), format, fidelity, secret: "bench-shared-secret" }));
  const replay = demos[0].replay;
  for (const demo of demos) await demo.replay.ready;
  let turn = 0;
  const app = { request: (path: string, init?: RequestInit) => demos[turn++ % instances].app.request(path, init) };
  const steps = signupScript(200, 30_000);
  const browser = new ScriptedBrowser(app, true);
  try {
    await playScript(app, steps, browser);
  } finally {
    for (const demo of demos) await demo.replay.close();
  }
  const summaries = await replay.store.listRecordingSummaries({ view: "SignupForm" });
  if (summaries.length !== 1) throw new Error(`expected one SignupForm recording, found ${summaries.length}`);
  const summary = summaries[0];
  const file = join(dir, "recordings", `${summary.id}.hrp`);
  const bytes = statSync(file).size;
  const uncompressed = unzlibSync(readFileSync(file).subarray(5)).length;
  const recording = await replay.store.getRecording(summary.id);
  const player = replay.player(recording);
  const report = player.fidelity();
  return {
    format,
    fidelity,
    events: summary.eventCount,
    bytes,
    uncompressed,
    indexEntry: JSON.stringify({ [summary.id]: summary }).length - 2,
    html: browser.pages.reduce((n, p) => n + new TextEncoder().encode(p.html).length, 0),
    identical: fidelity ? report.identical : undefined,
    frames: report.frames,
  };
}

export async function sizeSection(options: { quick: boolean; tmp: string }): Promise<Section> {
  const variants: [Format, boolean][] = [["tagged", true], ["tagged", false], ["json", true], ["json", false]];
  const measured: Measured[] = [];
  for (const [format, fidelity] of variants) {
    measured.push(await recordOnce(join(options.tmp, `size-${format}-${fidelity ? "hash" : "nohash"}`), format, fidelity));
  }
  const alternating = await recordOnce(join(options.tmp, "size-two-instances"), "tagged", true, 2);
  const rows: Row[] = [];
  for (const m of measured) {
    const name = `${m.format}, fidelity ${m.fidelity ? "on" : "off"}${m.format === "tagged" && m.fidelity ? " (default)" : ""}`;
    const key = `size.${m.format}.${m.fidelity ? "hash" : "nohash"}`;
    rows.push(
      row({
        id: `${key}.bytes`,
        label: `${name}: on disk`,
        value: m.bytes,
        unit: "B",
        baseline: { label: "reference design", value: REFERENCE_BYTES },
        target: { text: "≤ 4 KiB", met: m.bytes <= TARGET_BYTES },
      }),
      row({
        id: `${key}.perEvent`,
        label: `${name}: per event`,
        value: m.bytes / m.events,
        unit: "B/event",
        baseline: { label: "reference design", value: REFERENCE_BYTES / m.events },
      }),
      row({
        id: `${key}.uncompressed`,
        label: `${name}: uncompressed`,
        value: m.uncompressed,
        unit: "B",
        baseline: { label: "HTML served", value: m.html },
      }),
    );
  }
  const d = measured[0];
  rows.push(row({
    id: "size.twoInstances.bytes",
    label: "two instances, requests alternating (tagged, fidelity on): on disk",
    value: alternating.bytes,
    unit: "B",
    baseline: { label: "one instance", value: d.bytes },
    target: { text: "≤ 1.5× one instance", met: alternating.bytes <= 1.5 * d.bytes },
  }));
  return {
    id: "size",
    title: `1. Size — scripted 30 s signup session, ${d.events} events`,
    method:
      `GET /signup, a navigation to /signup?plan=pro, 200 keystrokes each validated by POST /signup/validate (typos corrected), a submit; ` +
      `through the demo app's real middleware, persistence worker and fileStorage, with app.request() under a virtual clock (Date.now replaced; takes milliseconds, not 30 s).`,
    rows,
    notes: [
      `The index entry adds ${d.indexEntry} B per recording (index.json). Replayed frames byte-identical to what was served: ` +
        measured.filter((m) => m.identical !== undefined).map((m) => `${m.format} ${m.identical}/${m.frames}`).join(", ") +
        `; two instances ${alternating.identical}/${alternating.frames}.`,
    ],
    details: { measured },
  };
}
