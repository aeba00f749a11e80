/**
 * What the drain engine (engine.ts) takes and gives: its options, the requests
 * the host sends it (host.ts, through the worker's messages or in-process),
 * and the counts it answers with (`replay.flush()` and `close()` return them).
 * Types only, apart from the engine, so that the host, the worker entry and
 * the store work (delivery.ts) name them without importing the engine.
 */

import type { Erasure } from "../storage/mod.ts";

export interface EngineOptions {
  /** This instance: it names its segments, its journal and its leases. */
  instanceId: string;
  /** The store shows no activity for this long: the recording is finalized by whichever instance sees it first. */
  idleTimeoutMs: number;
  persistenceRetryAttempts: number;
  persistenceRetryDelayMs: number;
  maxRecordings: number;
  maxRecordingAgeMs: number;
  cleanupIntervalMs: number;
  /** Directory for journals; undefined runs without a journal. */
  journalDir?: string;
  /** A segment is written when its frames hold this many characters… Default `ENGINE_DEFAULTS.segmentMaxChars`. */
  segmentMaxChars?: number;
  /** …or its oldest frame is this old. Default `ENGINE_DEFAULTS.segmentMaxAgeMs`. */
  segmentMaxAgeMs?: number;
  /**
   * Past this many characters of frames held for the store the ring is not
   * read (so at most this plus one batch, a ring's worth). Default `DEFAULTS.overflowLimit`.
   */
  maxHeldChars?: number;
}

export type EngineRequest =
  | { type: "sendSegments" }
  | { type: "maintain" }
  | { type: "flush" }
  | { type: "cleanup" }
  | { type: "stats" }
  /** close() is under way: read the ring whatever the engine holds, so the request thread's overflow can move in. */
  | { type: "closing" }
  | { type: "erase"; erasure: Erasure }
  | { type: "shutdown" };

export interface EngineStats {
  frames: number;
  /** Recordings this instance holds frames or an unfinished end of. */
  active: number;
  finalized: number;
  discarded: number;
  /** Segments written to the store. */
  segments: number;
  /** Finalizations saved (first ones and later ones). */
  persisted: number;
  /** Store operations that failed (they are retried). */
  saveFailures: number;
  /** Recordings whose frames wait for the store to come back; in close()'s stats, every recording it did not save. */
  waitingForStorage: number;
  /** Recordings rebuilt from the journal of an instance that died. */
  recovered: number;
  /** Characters of frames held in memory for the store (bounded by `maxHeldChars`). */
  heldChars: number;
  /** Why the crash journal cannot be written, while it cannot (a full disk). */
  journalFailure?: string;
  /**
   * Faults handled without failing, by kind (a journal write, sync or touch
   * that failed, a journal rewritten in place for lack of space, an orphaned
   * journal that could not be claimed…); each kind is also logged its 1st,
   * 10th, 100th… time.
   */
  faults: Record<string, number>;
}
