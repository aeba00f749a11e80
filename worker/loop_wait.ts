/**
 * How the drain loop (engine.ts: in the persistence worker, or in-process on
 * the request thread) waits for the ring between reads: paced while frames
 * come, asleep until the first frame or the next due segment when none came.
 * Every look is a thread wake-up, which on a VM costs about 100 µs of CPU
 * whatever it finds.
 */

import type { WaitMode } from "./ring.ts";

/**
 * How often a worker with recordings active looks at the ring: the request
 * thread does not wake it per frame (only past half full, or for an end someone
 * waits on: `EventLog.nudge`). This bounds what a SIGKILL takes from the ring
 * before the journal has it. Each look costs a thread wake-up whatever it
 * finds: at 2,000 requests a second, looking every 10 ms cost the worker 31–33
 * µs a request, every 25 ms 21–23, every 50 ms 18 (bench/in_process_child.ts
 * paced, this 2-core VM, where a wake-up costs ~100 µs of CPU).
 */
export const POLL_MS = 25;
/**
 * How often the loop runs when the ring was empty at its last look (heartbeats
 * have their own timer; this is for the store's due work): 100 wake-ups a
 * second cost an instance that records nothing 4–6 µs a request (perf, the
 * request bench's sampled-out variant at 3,000 requests a second).
 */
const IDLE_POLL_MS = 250;

/**
 * How the loop waits for the ring after reading `drained` frames. After
 * frames, POLL_MS, paced: under load a wake-up per few frames cost more than
 * reading them (the ring wakes the reader early past half full). After none,
 * the first frame written wakes it ("idle"), and otherwise the loop runs when
 * the next segment is due by age (`dueInMs`), at most IDLE_POLL_MS apart. A
 * quiet instance with recordings active used to look every POLL_MS for as long
 * as they stayed active (idleTimeoutMs): with one recording active and no
 * requests, its worker and I/O threads cost 18.8 ms of CPU a second.
 */
export function nextWait(drained: number, dueInMs: number | undefined): { timeoutMs: number; mode: WaitMode } {
  if (drained > 0) return { timeoutMs: POLL_MS, mode: "paced" };
  const timeoutMs = dueInMs === undefined ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(POLL_MS, dueInMs));
  return { timeoutMs, mode: "idle" };
}
