/**
 * Every default of hono-replay, written once.
 *
 * Invariants, and why:
 * - A default value lives here and nowhere else. `resolveOptions` (options.ts)
 *   fills `createReplay`'s options from `DEFAULTS`; the worker host and the
 *   event log read `HOST_DEFAULTS` / `DEFAULTS` for the options they leave
 *   optional. A second copy of a number (the ring size and the beacon path were
 *   each defaulted twice) drifts the day one of them changes.
 * - README.md's Configuration table states these defaults to users; a test
 *   (tests/defaults.test.ts) parses that table and compares it with `DEFAULTS`,
 *   so changing one without the other fails the suite.
 * - This module has no value imports but the sanitizer's limits (a module with
 *   only type imports): the worker and the recorder import it, and it must not
 *   pull either of them in (no import cycles; see tests/import_cycles.test.ts).
 * - The objects are frozen: a caller that mutates a default would change it for
 *   every later `createReplay`.
 */

import { defaultLimits } from "./recorder/sanitize.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The defaults of `createReplay`'s options (`ReplayOptions`), by option name.
 * Options that have no value as a default are described in options.ts and in
 * the README: `views` (required), `storage` (`fileStorage()`, whose own default
 * path is "replay_recordings"), `session` (none), `sanitizer` (the built-in one
 * with `limits`), `journal` (the storage's `journalDir`, else a per-user temp dir: options.ts)
 * and `logger` (`consoleLogger`, logger.ts).
 */
export const DEFAULTS = Object.freeze({
  format: "tagged" as "tagged" | "json",
  sampleRate: 1,
  maxEvents: 10_000,
  idleTimeoutMs: 10 * MINUTE,
  beaconGraceMs: 5_000,
  keyframeInterval: 50,
  fidelity: true,
  limits: Object.freeze({ ...defaultLimits }),
  maxValueChars: 256 * 1024,
  maxRecordings: 1_000,
  maxRecordingAgeMs: 7 * DAY,
  cleanupIntervalMs: HOUR,
  persistenceRetryAttempts: 3,
  persistenceRetryDelayMs: 1_000,
  worker: true,
  heartbeatTimeoutMs: 5_000,
  /** Bytes of the SharedArrayBuffer ring: a power of two. */
  ringBytes: 4 * 1024 * 1024,
  /** Characters queued outside a full ring before frames are dropped and counted. */
  overflowLimit: 8 * 1024 * 1024,
  cookieName: "hono_replay",
  beaconPath: "/__replay/leave",
  eventHeader: "x-replay-event",
  eventField: "_event",
  trustProxy: false,
  maxActiveRecordings: 10_000,
});

/**
 * Tuning of the worker host (worker/host.ts) that `createReplay` does not
 * expose; see `HostOptions` for what each one bounds.
 */
export const HOST_DEFAULTS = Object.freeze({
  heartbeatTimeoutMs: DEFAULTS.heartbeatTimeoutMs,
  workerStartTimeoutMs: 15_000,
  restartLimit: 3,
  restartWindowMs: MINUTE,
  restartDelayMs: 100,
  restartDelayMaxMs: 5_000,
  /** Plus the time the save retries can take: see `HostOptions.shutdownTimeoutMs`. */
  shutdownTimeoutBaseMs: 30_000,
});

/**
 * Tuning of the drain engine (worker/engine.ts) that `createReplay` does not
 * expose: when an active recording's frames go to the store as a segment
 * (worker/drain.ts says why these bounds).
 */
export const ENGINE_DEFAULTS = Object.freeze({
  /**
   * A segment is written once its unsent frames hold this many characters…
   * (a bound on one recording's held frames and on one store write: segments
   * are meant to go by age, and the engine's `maxHeldChars` bounds them all)
   */
  segmentMaxChars: 1024 * 1024,
  /** …or its oldest frame is this old. */
  segmentMaxAgeMs: 1_000,
});

/**
 * The recorder's own check ends idle recordings; the engine's check is a safety
 * net for lost end frames, so it waits this many times longer.
 */
export const ENGINE_IDLE_FACTOR = 2;
