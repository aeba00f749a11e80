/**
 * Renders frames: the registered view, server-side, with the reconstructed
 * assigns, through the recorder's own `renderView` (Preact or hono/jsx): a
 * frame is rendered by the same code that rendered it when it was served. When
 * the recording holds a hash of the HTML that was served, each frame says
 * whether the re-render is byte-identical — a view that reads the clock or a
 * global is caught instead of silently misreplayed.
 */

import type { Recording } from "../format/mod.ts";
import { verifyFidelity } from "../recorder/fidelity.ts";
import { renderView, type View } from "../recorder/render.ts";
import { withIslandStates } from "../islands/client.ts";
import { islandIdentical, IslandStates } from "../islands/replay.ts";
import { Timeline } from "./reconstruct.ts";

export type { View };

export interface RenderedFrame {
  index: number;
  t: number;
  html: string;
  /** true: byte-identical to what was served; false: differs; undefined: no hash was recorded. Computed on first read. */
  readonly identical?: boolean;
}

export interface FidelityReport {
  frames: number;
  identical: number;
  differing: number[];
  unknown: number;
}

export class Player {
  readonly timeline: Timeline;
  /** Recorded island state per event (islands/): empty for recordings without islands. */
  readonly islands: IslandStates;

  /** `fidelityKey`: the recorder's (recorder/fidelity.ts); without it keyed hashes read as unknown. */
  constructor(readonly recording: Recording, readonly view: View, private readonly fidelityKey?: string) {
    this.timeline = new Timeline(recording);
    this.islands = new IslandStates(recording);
  }

  get frameCount(): number {
    return this.timeline.frames.length;
  }

  renderFrame(index: number): RenderedFrame {
    const frame = this.timeline.frames[index];
    const assigns = this.timeline.assignsOf(index);
    // Islands show their recorded state; the server served them in their initial one.
    const islands = this.islands.statesAt(frame.eventIndex);
    const html = withIslandStates(islands, () => renderView(this.view, assigns));
    const event = frame.event;
    const view = this.view;
    const key = this.fidelityKey;
    let identical: boolean | undefined | null = null;
    // Hashing costs as much as a third of the render: done only when asked for.
    return {
      index,
      t: frame.t,
      html,
      get identical() {
        if (identical !== null) return identical;
        if (event.kind === "island") identical = islandIdentical(html, event);
        else identical = verifyFidelity(islands ? renderView(view, assigns) : html, event.htmlHash, key);
        return identical;
      },
    };
  }

  /** The frame on screen `t` ms into the session (the mount before it starts). */
  renderAt(t: number): RenderedFrame {
    return this.renderFrame(Math.max(0, this.timeline.frameIndexAt(t)));
  }

  fidelity(): FidelityReport {
    const report: FidelityReport = { frames: this.frameCount, identical: 0, differing: [], unknown: 0 };
    for (let i = 0; i < this.frameCount; i++) {
      const { identical } = this.renderFrame(i);
      if (identical === undefined) report.unknown++;
      else if (identical) report.identical++;
      else report.differing.push(i);
    }
    return report;
  }
}
