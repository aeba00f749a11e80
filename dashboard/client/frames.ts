/**
 * Where the player gets rendered frames: in memory, then IndexedDB (finalized
 * recordings only, through idb-keyval), then the server in batches.
 */

import { createStore, delMany, get, getMany, set, setMany, type UseStore } from "idb-keyval";
import type { FrameBatch, FrameData } from "../shared.ts";
import type { FrameSource } from "./static_frames.ts";

export { type FrameSource, StaticFrames } from "./static_frames.ts";

const KEEP_RECORDINGS = 30;
let idbStore: UseStore | undefined;
function cacheStore(): UseStore | undefined {
  try {
    if (typeof indexedDB === "undefined") return undefined;
    return (idbStore ??= createStore("hono-replay-dashboard", "frames"));
  } catch {
    return undefined;
  }
}

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
    const store = this.cacheKey ? cacheStore() : undefined;
    const key = (i: number) => `${this.cacheKey}:${i}`;
    if (store) {
      try {
        const indexes = Array.from({ length: to - from }, (_, k) => from + k);
        const cached = await getMany<FrameData>(indexes.map(key), store);
        cached.forEach((f) => f && this.frames.set(f.i, f));
        this.cacheHits += cached.filter(Boolean).length;
        while (from < to && this.frames.has(from)) from++;
        if (from >= to) return;
      } catch {
        // No IndexedDB (private mode, quota): the network it is.
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        this.fetched++;
        const res = await fetch(`${this.url}?from=${from}&count=${to - from}`, { credentials: "same-origin" });
        if (!res.ok) throw new Error(`frames: HTTP ${res.status}`);
        const batch = (await res.json()) as FrameBatch;
        for (const f of batch.frames) this.frames.set(f.i, f);
        if (store && !batch.active && batch.frames.length) {
          void remember(this.cacheKey!, batch.frameCount, store)
            .then(() => setMany(batch.frames.map((f) => [key(f.i), f]), store))
            .catch(() => {});
        }
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
}

/** Keeps the frames of the last KEEP_RECORDINGS recordings opened; older ones are dropped. */
async function remember(cacheKey: string, frameCount: number, store: UseStore): Promise<void> {
  const recent = (await get<[string, number][]>("recent", store)) ?? [];
  if (recent.some(([k]) => k === cacheKey)) return;
  recent.push([cacheKey, frameCount]);
  const evicted = recent.splice(0, Math.max(0, recent.length - KEEP_RECORDINGS));
  await set("recent", recent, store);
  for (const [k, n] of evicted) await delMany(Array.from({ length: n }, (_, i) => `${k}:${i}`), store);
}
