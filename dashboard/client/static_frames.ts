/**
 * Frames the player gets without fetching: what the server renders the player
 * with, and exports. Its own module, apart from frames.ts, so that rendering the
 * player on the server never loads idb-keyval (the browser's frame cache).
 */

import type { FrameData } from "../shared.ts";

export interface FrameSource {
  get(index: number): FrameData | undefined;
  /** Starts loading what is missing of [from, to); calls the change listener when frames arrive. */
  ensure(from: number, to: number): void;
  frameCount: number;
  /** Set when the recording is finalized: its frames may be cached. */
  cacheKey?: string;
  onChange?: () => void;
}

/** Frames known up front: server-side rendering and exports. */
export class StaticFrames implements FrameSource {
  private readonly frames = new Map<number, FrameData>();
  onChange?: () => void;
  cacheKey?: string;
  constructor(frames: FrameData[], public frameCount: number) {
    for (const f of frames) this.frames.set(f.i, f);
  }
  get(index: number) {
    return this.frames.get(index);
  }
  ensure() {}
}

