/**
 * A store wrapper for the worker tests (not a test itself): an instance killed
 * after the store committed its segment, before it heard back.
 */

import type { RecordingStorage } from "../mod.ts";
import type { Segment } from "../storage/mod.ts";

/**
 * `storage`, except that once `stall()` was called the next segment append is
 * stored and then never answered (until `release()`): an instance killed after
 * the store committed its segment, before it heard back. `stalled` resolves then.
 */
export function stallingStore(storage: RecordingStorage) {
  let stallNext = false;
  let taken!: () => void;
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => (taken = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const store: RecordingStorage = {
    ...storage,
    async appendSegment(segment: Segment) {
      await storage.appendSegment(segment);
      if (!stallNext) return;
      stallNext = false;
      taken();
      await released;
    },
  };
  return { store, stall: () => void (stallNext = true), stalled, release };
}
