/**
 * Rebuilds the assigns at any moment. A frame is the mount or a render; its
 * assigns are the last full snapshot (mount or keyframe) with the deltas after
 * it applied. Frames are indexed once, with a checkpoint of the assigns every
 * CHECKPOINT frames, so seeking anywhere costs a binary search and at most
 * CHECKPOINT small merges, however long the recording.
 */

import type { Assigns, Recording, ReplayEvent } from "../format/mod.ts";

/** Island events are frames too: the page as the user saw it changes with them (islands/replay.ts). */
export type FrameEvent = Extract<ReplayEvent, { kind: "mount" | "render" | "island" }>;

export interface Frame {
  /** Position of the frame's event in `recording.events`. */
  eventIndex: number;
  t: number;
  event: FrameEvent;
}

const CHECKPOINT = 32;

export class Timeline {
  readonly frames: Frame[] = [];
  private readonly checkpoints: Assigns[] = [];

  constructor(readonly recording: Recording) {
    recording.events.forEach((event, eventIndex) => {
      if (event.kind === "mount" || event.kind === "render" || event.kind === "island") this.frames.push({ eventIndex, t: event.t, event });
    });
    let assigns: Assigns = {};
    this.frames.forEach((f, i) => {
      assigns = apply(assigns, f.event);
      if (i % CHECKPOINT === 0) this.checkpoints.push(assigns);
    });
  }

  /** Index of the frame shown at time `t` (the last one at or before it); -1 before the mount. */
  frameIndexAt(t: number): number {
    let lo = 0;
    let hi = this.frames.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.frames[mid].t <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** The assigns of frame `index`. A fresh object each call: callers may mutate it. */
  assignsOf(index: number): Assigns {
    if (index < 0 || index >= this.frames.length) throw new RangeError(`no frame ${index} (recording has ${this.frames.length})`);
    const base = Math.floor(index / CHECKPOINT);
    let assigns = { ...this.checkpoints[base] };
    for (let i = base * CHECKPOINT + 1; i <= index; i++) assigns = apply(assigns, this.frames[i].event, true);
    return assigns;
  }

  assignsAt(t: number): Assigns | undefined {
    const index = this.frameIndexAt(t);
    return index < 0 ? undefined : this.assignsOf(index);
  }

  /** Keys the frame's render changed (all of them for a mount or a full snapshot). */
  changedKeys(index: number): string[] {
    const e = this.frames[index].event;
    if (e.kind === "island") return [];
    return e.kind === "mount" ? Object.keys(e.assigns) : [...Object.keys(e.changed), ...e.removed];
  }
}

function apply(assigns: Assigns, event: FrameEvent, inPlace = false): Assigns {
  if (event.kind === "island") return assigns; // the assigns stay; islands/replay.ts has the island's state
  if (event.kind === "mount") return { ...event.assigns };
  if (event.full) return { ...event.changed };
  const next = inPlace ? assigns : { ...assigns };
  Object.assign(next, event.changed);
  for (const key of event.removed) delete next[key];
  return next;
}

/** The assigns of `recording` at `t` milliseconds after its start; undefined before the mount. */
export function reconstruct(recording: Recording, t: number): Assigns | undefined {
  return new Timeline(recording).assignsAt(t);
}
