/**
 * The host's watchdog over a running worker's heartbeat (the ring's beat,
 * which the drain loop bumps every turn: worker/ring.ts).
 *
 * Invariants, and why:
 * - A worker stuck in synchronous code (an endless loop in a bug) stops
 *   beating; one whose beat has not changed for `timeoutMs` is reported stuck,
 *   so the host replaces it. A worker that is not ready yet has no heartbeat:
 *   the start timeout covers it, not this.
 * - A new worker is watched from when it is first seen ready, never judged by
 *   its predecessor's last beat.
 * - The timer is unref'd: watching never keeps the process alive.
 */

import { RingReader } from "./ring.ts";
import { backgroundTimer } from "./runtime.ts";

/** Calls `stuck(worker)` when the current ready worker's heartbeat stops for `timeoutMs`. Returns a stop. */
export function watchHeartbeat<W extends { ready: boolean }>(
  buffer: SharedArrayBuffer,
  timeoutMs: number,
  now: () => number,
  current: () => W | undefined,
  stuck: (worker: W) => void,
): () => void {
  const ring = new RingReader(buffer);
  let last = ring.heartbeat();
  let changedAt = now();
  let watched: W | undefined;
  return backgroundTimer(() => {
    const worker = current();
    const beat = ring.heartbeat();
    if (!worker?.ready || worker !== watched || beat !== last) {
      watched = worker;
      last = beat;
      changedAt = now();
    } else if (now() - changedAt > timeoutMs) {
      stuck(worker);
    }
  }, Math.max(100, timeoutMs / 5), true);
}
