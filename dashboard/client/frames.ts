/**
 * Where the player gets rendered frames: in memory, then the browser's cache
 * (finalized recordings only, frame_cache.ts), then the server in batches.
 *
 * At most two batches are in flight; a batch that fails is retried twice,
 * then given up with a warning (the player shows the nearest frame it has and
 * asks again when the playhead needs it).
 */

import type { FrameBatch, FrameData } from "../shared.ts";
import { cacheStore, readFrames, saveFrames } from "./frame_cache.ts";
import type { FrameSource } from "./static_frames.ts";

export { type FrameSource, StaticFrames } from "./static_frames.ts";

export class RemoteFrames implements FrameSource {
  private readonly frames = new Map<number, FrameData>();
  private readonly inflight: [number, number][] = [];
  onChange?: () => void;
  /** Network requests made, for diagnostics (and tests: a cached recording makes none). */
  fetched = 0;
  cacheHits = 0;

  constructor(
    private readonly url: string,
    public frameCount: number,
    private readonly batchSize: number,
    public cacheKey: string | undefined,
    initial: FrameData[],
  ) {
    for (const f of initial) this.frames.set(f.i, f);
  }

  get(index: number) {
    return this.frames.get(index);
  }

  ensure(from: number, to: number): void {
    const end = Math.min(to, this.frameCount);
    for (let i = Math.max(0, from); i < end; i++) {
      if (this.frames.has(i)) continue;
      const busy = this.inflight.find(([a, b]) => i >= a && i < b);
      if (busy) {
        i = busy[1] - 1;
        continue;
      }
      if (this.inflight.length >= 2) return;
      const range: [number, number] = [i, Math.min(this.frameCount, i + this.batchSize)];
      this.inflight.push(range);
      void this.load(range[0], range[1]).finally(() => {
        this.inflight.splice(this.inflight.indexOf(range), 1);
        this.onChange?.();
      });
      i = range[1] - 1;
    }
  }

  private async load(from: number, to: number): Promise<void> {
    from = await this.fromCache(from, to);
    if (from >= to) return;
    for (let attempt = 0; ; attempt++) {
      try {
        this.fetched++;
        const res = await fetch(`${this.url}?from=${from}&count=${to - from}`, { credentials: "same-origin" });
        if (!res.ok) throw new Error(`frames: HTTP ${res.status}`);
        const batch = (await res.json()) as FrameBatch;
        for (const f of batch.frames) this.frames.set(f.i, f);
        this.toCache(batch);
        return;
      } catch (error) {
        if (attempt >= 2) {
          console.warn("hono-replay dashboard:", error);
          return;
        }
        await new Promise((r) => setTimeout(r, 300 * (attempt + 1)));
      }
    }
  }

  /** Takes what the cache has of [from, to); returns where the frames still missing start. */
  private async fromCache(from: number, to: number): Promise<number> {
    const store = this.cacheKey ? cacheStore() : undefined;
    if (!store) return from;
    try {
      for (const f of await readFrames(store, this.cacheKey!, from, to)) {
        this.frames.set(f.i, f);
        this.cacheHits++;
      }
    } catch (error) {
      console.warn("hono-replay dashboard: the frame cache could not be read, fetching instead:", error);
    }
    while (from < to && this.frames.has(from)) from++;
    return from;
  }

  private toCache(batch: FrameBatch): void {
    const store = this.cacheKey ? cacheStore() : undefined;
    if (!store || batch.active || batch.frames.length === 0) return;
    saveFrames(store, this.cacheKey!, batch.frameCount, batch.frames).catch((error) => {
      console.warn("hono-replay dashboard: frames could not be cached in this browser:", error);
    });
  }
}
