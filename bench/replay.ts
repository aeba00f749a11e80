/**
 * 4. Replay and 7b. its scaling: recordings of about 100, 1,000 and 10,000
 * events made through the demo's middleware (virtual clock); seeking to random
 * moments and rendering that frame, against a plain renderToString of the same
 * assigns, interleaved sample by sample.
 */

import { unzlibSync } from "fflate";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { createDemoApp } from "../examples/demo/app.tsx";
import { SignupForm, type SignupProps } from "../examples/demo/views.tsx";
import type { Recording } from "../format/mod.ts";
import { memoryStorage } from "../storage/mod.ts";
import { median, now, p99, prng, row, type Row, type Section, timerOverheadNs } from "./lib.ts";
import { playScript, typingScript } from "./session.ts";

const SIZES = [100, 1_000, 10_000];

interface Measured {
  events: number;
  frames: number;
  plain: number[];
  seekRender: number[];
  renderAt: number[];
  seek: number[];
  /** Per tenth of the recording (by frame position): [plain, seekRender] samples. */
  deciles: { plain: number[]; seekRender: number[] }[];
  open: number[];
  openBaseline: number[];
}

/** Recordings of about `n` events each (mount + keystrokes), through the middleware. */
async function makeRecordings(): Promise<{ recordings: Map<number, Recording>; bytes: Map<number, Uint8Array>; replay: ReturnType<typeof createDemoApp>["replay"] }> {
  const { app, replay } = createDemoApp({ storage: memoryStorage(), worker: false });
  await replay.ready;
  for (const n of SIZES) await playScript(app, typingScript(Math.floor((n - 1) / 2)));
  await replay.close();
  const recordings = new Map<number, Recording>();
  const bytes = new Map<number, Uint8Array>();
  for (const summary of await replay.store.listRecordingSummaries()) {
    const n = SIZES.find((size) => Math.abs(summary.eventCount - size) <= 2);
    if (n === undefined) throw new Error(`unexpected recording of ${summary.eventCount} events`);
    recordings.set(n, await replay.store.getRecording(summary.id));
    bytes.set(n, await replay.store.storage.load(summary.id));
  }
  return { recordings, bytes, replay };
}

export async function replaySection(options: { quick: boolean; tmp: string }): Promise<{ replay: Section; scalingRows: Row[]; scalingMethod: string }> {
  const samplesPerSize = options.quick ? 400 : 4_000;
  const opens = options.quick ? 3 : 20;
  const { recordings, bytes, replay } = await makeRecordings();
  const overhead = timerOverheadNs();
  const random = prng(7);
  const results = new Map<number, Measured>();
  // Round 0 warms up and is thrown away; then the sizes take turns.
  const rounds = options.quick ? 1 : 4;
  for (let round = 0; round <= rounds; round++) {
    for (const n of round % 2 ? [...SIZES].reverse() : SIZES) {
      const recording = recordings.get(n)!;
      const player = replay.player(recording);
      const timeline = player.timeline;
      const m = results.get(n) ?? {
        events: recording.events.length,
        frames: player.frameCount,
        plain: [],
        seekRender: [],
        renderAt: [],
        seek: [],
        deciles: Array.from({ length: 10 }, () => ({ plain: [], seekRender: [] })),
        open: [],
        openBaseline: [],
      };
      const keep = round > 0;
      const count = round === 0 ? 200 : Math.ceil(samplesPerSize / rounds);
      for (let i = 0; i < count; i++) {
        const t = random() * recording.durationMs;
        const index = Math.max(0, timeline.frameIndexAt(t));
        const assigns = timeline.assignsOf(index);
        const decile = Math.min(9, Math.floor((index / player.frameCount) * 10));
        const plain = () => {
          const t0 = now();
          renderToString(h(SignupForm, assigns as unknown as SignupProps));
          const ns = (now() - t0) * 1e6 - overhead;
          if (keep) m.plain.push(ns), m.deciles[decile].plain.push(ns);
        };
        const seekRender = () => {
          const t0 = now();
          renderToString(h(SignupForm, timeline.assignsAt(t) as unknown as SignupProps));
          const ns = (now() - t0) * 1e6 - overhead;
          if (keep) m.seekRender.push(ns), m.deciles[decile].seekRender.push(ns);
        };
        const renderAt = () => {
          const t0 = now();
          player.renderAt(t);
          if (keep) m.renderAt.push((now() - t0) * 1e6 - overhead);
        };
        const order = [plain, seekRender, renderAt];
        for (let k = 0; k < 3; k++) order[(i + k) % 3]();
        const t0 = now();
        timeline.assignsAt(t);
        if (keep) m.seek.push((now() - t0) * 1e6 - overhead);
      }
      // Opening the recording: decode the stored file and index it for seeking.
      for (let i = 0; i < (keep ? Math.ceil(opens / rounds) : 1); i++) {
        const file = bytes.get(n)!;
        let t0 = now();
        JSON.parse(new TextDecoder().decode(unzlibSync(file.subarray(5))));
        const base = (now() - t0) * 1e6;
        t0 = now();
        replay.player(await replay.store.getRecording(recording.id));
        const open = (now() - t0) * 1e6;
        if (keep) m.openBaseline.push(base), m.open.push(open);
      }
      results.set(n, m);
    }
  }

  const big = results.get(10_000)!;
  const worst = big.deciles
    .map((d, i) => ({ i, ratio: median(d.seekRender) / median(d.plain), n: d.plain.length }))
    .filter((d) => d.n > 0)
    .sort((a, b) => b.ratio - a.ratio)[0];
  const renderBaseline = { label: "renderToString, same assigns", value: median(big.plain), p99: p99(big.plain) };
  const seekRatio = median(big.seekRender) / median(big.plain);
  const renderAtRatio = median(big.renderAt) / median(big.plain);
  const rows: Row[] = [
    row({
      id: "replay.seekRender",
      label: "seek + render a random moment",
      value: median(big.seekRender),
      p99: p99(big.seekRender),
      unit: "ns",
      baseline: renderBaseline,
      target: { text: "≤ 1.5×", met: seekRatio <= 1.5 },
    }),
    row({
      id: "replay.seekRender.worstDecile",
      label: `seek + render, worst tenth of the recording (tenth ${worst.i + 1})`,
      value: median(big.deciles[worst.i].seekRender),
      unit: "ns",
      baseline: { label: "renderToString, same tenth", value: median(big.deciles[worst.i].plain) },
      target: { text: "≤ 1.5× at any moment", met: worst.ratio <= 1.5 },
    }),
    row({
      id: "replay.renderAt",
      label: "Player.renderAt (the fidelity hash is computed only when read)",
      value: median(big.renderAt),
      p99: p99(big.renderAt),
      unit: "ns",
      baseline: renderBaseline,
      target: { text: "≤ 1.5×", met: renderAtRatio <= 1.5 },
    }),
    row({
      id: "replay.seek",
      label: "seek only (Timeline.assignsAt)",
      value: median(big.seek),
      p99: p99(big.seek),
      unit: "ns",
      baseline: renderBaseline,
    }),
    row({
      id: "replay.open",
      label: "open: getRecording + player (decode, index)",
      value: median(big.open),
      unit: "ns",
      baseline: { label: "inflate + JSON.parse of the file", value: median(big.openBaseline) },
    }),
  ];
  const base = results.get(100)!;
  const scalingRows: Row[] = SIZES.map((n) => {
    const m = results.get(n)!;
    const value = median(m.seekRender);
    return row({
      id: `scaling.replay.${n}`,
      label: `replay seek + render, ${m.events.toLocaleString("en-US")}-event recording`,
      value,
      p99: p99(m.seekRender),
      unit: "ns",
      baseline: { label: `${base.events.toLocaleString("en-US")}-event recording`, value: median(base.seekRender), p99: p99(base.seekRender) },
      target: { text: "flat (≤ 1.5×)", met: value / median(base.seekRender) <= 1.5 },
    });
  });
  return {
    replay: {
      id: "replay",
      title: `4. Replay — seek to a random moment of a ${big.events.toLocaleString("en-US")}-event recording and render it`,
      method:
        `${big.seekRender.length.toLocaleString("en-US")} random moments, recorded through the demo's middleware; each sample times the plain render, ` +
        `seek + render and Player.renderAt in rotating order; medians (p99).`,
      rows,
      notes: [],
      details: {
        frames: big.frames,
        decileRatios: big.deciles.map((d) => median(d.seekRender) / median(d.plain)),
        recordingBytes: Object.fromEntries([...bytes].map(([n, b]) => [n, b.length])),
      },
    },
    scalingRows,
    scalingMethod: `replay: seek + render of a random moment (as in 4.), ${big.seekRender.length.toLocaleString("en-US")} samples per recording, recordings made through the middleware`,
  };
}
