/**
 * Internal entry points: for the project's own tests and fault servers, not
 * part of the public API (not in package.json's exports, not re-exported by
 * mod.ts), so they may change in any release.
 *
 * Invariants, and why:
 * - Test hooks (killing or hanging the persistence worker) are not on the
 *   public `Replay` type: an app that could call them by accident could lose
 *   recordings. They hang off each replay under a symbol that only this module
 *   knows, set by createReplay.
 * - This module imports only types from mod.ts: mod.ts imports it for the
 *   symbol, and a value import back would be an import cycle.
 */

import type { EngineStats, Replay } from "./mod.ts";

/** The key of a replay's test hooks. */
export const TEST_HOOKS: unique symbol = Symbol("hono-replay test hooks");

export interface TestHooks {
  /** Makes the persistence worker die of an uncaught error, as a bug would. No worker: nothing happens. */
  crashWorker(): void;
  /** Blocks the worker's thread for `ms`, as an endless loop in a bug would. No worker: nothing happens. */
  hangWorker(ms: number): void;
  /** The engine's stats now, without flushing (a flush waits for the store). */
  stats(): Promise<EngineStats>;
  /** Replaces the recorder's clock (epoch ms): idle timeouts and beacon grace follow it, not the wall clock. */
  useClock(now: () => number): void;
  /** Asks the persistence worker to collect its garbage (only under --expose-gc; no worker: nothing happens). */
  gcWorker(): void;
  /** How many times the drain loop has turned (each turn a wake-up of the worker, or in-process of the request thread): the ring's heartbeat. */
  loopTurns(): number;
  /** Runs the recorder's sweep now (it lets go of what went idle by its clock), instead of waiting for its timer. */
  sweepRecorder(): void;
}

/** The test hooks of a replay made by createReplay. */
export function testHooks(replay: Replay): TestHooks {
  const hooks = (replay as unknown as { [TEST_HOOKS]?: TestHooks })[TEST_HOOKS];
  if (!hooks) throw new TypeError("testHooks: not a replay made by createReplay");
  return hooks;
}
