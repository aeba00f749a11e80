/**
 * A storage whose every operation takes `delayMs` (a slow or remote store),
 * for the flood tests: file storage underneath, so a persistence worker can
 * open it from its spec in its own thread. `slowMemory` is the in-process
 * variant that also counts how many operations are under way at once.
 */

import { fileStorage, memoryStorage, type RecordingStorage } from "../../mod.ts";

const OPERATIONS = ["save", "load", "list", "delete", "cleanup", "appendSegment", "loadSegments", "listSegments", "deleteSegments", "claim", "release"] as const;

export interface SlowFileOptions {
  path: string;
  delayMs: number;
}

/** Every store operation waits `delayMs` first; the rest is `inner`'s. */
function slowed<T extends RecordingStorage>(inner: T, delayMs: number, onStart = () => {}, onEnd = () => {}): T {
  const out = { ...inner };
  for (const name of OPERATIONS) {
    const original = inner[name] as (...args: unknown[]) => Promise<unknown>;
    (out as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      onStart();
      try {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return await original.apply(inner, args);
      } finally {
        onEnd();
      }
    };
  }
  return out;
}

export function slowFileStorage(options: SlowFileOptions): RecordingStorage {
  const storage = slowed(fileStorage({ path: options.path }), options.delayMs);
  return { ...storage, spec: { module: import.meta.url, export: "slowFileStorage", options } };
}

/** In memory (the engine runs in-process); `inFlight.max` is the most operations ever under way at once. */
export function slowMemory(delayMs: number) {
  const inFlight = { now: 0, max: 0 };
  const storage = slowed(memoryStorage(), delayMs, () => (inFlight.max = Math.max(inFlight.max, ++inFlight.now)), () => inFlight.now--);
  return { storage, inFlight };
}
