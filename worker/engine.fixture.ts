/**
 * What the worker tests that drive a real Engine share (not a test itself):
 * options under which nothing happens unless the test asks, a small
 * recording's frames, and a store wrapper that plays an instance killed after
 * the store committed its segment, before it heard back.
 */

import { encode, frame, FrameKind, payload } from "../format/mod.ts";
import type { RecordingStorage } from "../mod.ts";
import type { Segment } from "../storage/mod.ts";
import type { EngineOptions } from "./engine_types.ts";

/** Engine options for `instanceId`: nothing due by itself while the test runs (segments go when it flushes), nothing swept. */
export function quietEngineOptions(instanceId: string, journalDir?: string): EngineOptions {
  return {
    instanceId,
    journalDir,
    idleTimeoutMs: 3_600_000,
    segmentMaxAgeMs: 3_600_000,
    persistenceRetryAttempts: 1,
    persistenceRetryDelayMs: 50,
    maxRecordings: 100,
    maxRecordingAgeMs: 3_600_000,
    cleanupIntervalMs: 3_600_000,
  };
}

/** Recording `id` of a Counter view: its start frame (`resumed`: as an instance joining it writes it), mount, and requests. */
export function counterRecording(id: string) {
  const meta = { view: "Counter", url: "http://localhost/counter", sessionKey: "k", startedAt: Date.UTC(2026, 0, 9), format: "tagged" };
  return {
    meta,
    start: (resumed = false) => frame(id, FrameKind.start, 0, "", JSON.stringify(resumed ? { ...meta, resumed: true } : meta)),
    mount: frame(id, FrameKind.mount, 0, "", payload.mount(meta.url, "{}", "{}", encode({ count: 0 })), 1),
    /** Request `i`: a click and its render. */
    click: (i: number) => [
      frame(id, FrameKind.event, i * 100, "click", payload.event(encode({ i })), i + 1),
      frame(id, FrameKind.render, i * 100 + 1, "", payload.render(encode({ count: i }), []), i + 1),
    ],
  };
}

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
