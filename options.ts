/**
 * `createReplay`'s options, and how they are resolved into what each part
 * (recorder, event log, worker host, store) is built with.
 *
 * Invariants, and why:
 * - The public options stay flat and every one stays optional but `views`:
 *   apps written against earlier versions keep working. The grouping is in
 *   `ResolvedOptions`, one group per part, so each part gets exactly its own.
 * - Defaults come from `DEFAULTS` (defaults.ts) only; nothing here writes a
 *   number or a name of its own. The option docs below say what an option does
 *   and point there for the value.
 * - Validation that does not depend on the environment happens here, before
 *   anything is allocated or started: a bad option is a TypeError from
 *   `createReplay`, not a failure in a worker later.
 */

import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "hono";
import { DEFAULTS, ENGINE_IDLE_FACTOR } from "./defaults.ts";
import { type Format, randomToken, shortHash } from "./format/mod.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import { type Allowlist, AllowlistFilter } from "./recorder/allowlist.ts";
import { env, resolveFidelityKey } from "./recorder/fidelity.ts";
import type { RecorderOptions } from "./recorder/index.ts";
import type { View } from "./recorder/render.ts";
import { defaultSanitizer, type SanitizeLimits, type Sanitizer } from "./recorder/sanitize.ts";
import { fileStorage } from "./storage/file.ts";
import type { RecordingStorage } from "./storage/types.ts";
import type { HostOptions } from "./worker/host.ts";
import { currentUid } from "./worker/private_dir.ts";

/** Options of `createReplay`. Every default is in `DEFAULTS` (defaults.ts) and README.md's Configuration table. */
export interface ReplayOptions {
  /** The views that can be recorded and replayed, by the name recordings store. */
  views: Record<string, View>;
  /** Where finalized recordings go. Default: `fileStorage({ path: "replay_recordings" })`. */
  storage?: RecordingStorage;
  /** "tagged" (default) keeps Date, Map, Set, BigInt, undefined…; "json" is portable and lossy. */
  format?: Format;
  /** Session data stored with each mount, e.g. `(c) => ({ userId: c.var.user?.id })`. Sanitized. */
  session?: (c: Context) => unknown;
  /** Share of sessions recorded, decided per session cookie. Default 1. */
  sampleRate?: number;
  /** Events per recording; later ones are not recorded and the recording is marked truncated. Default 10,000. */
  maxEvents?: number;
  /** A recording with no request for this long is ended. Default 10 minutes. */
  idleTimeoutMs?: number;
  /** After the pagehide beacon, end unless the session sends another request within this. Default 5,000. */
  beaconGraceMs?: number;
  /** A render is stored in full every N renders, so seeking stays cheap. Default 50. */
  keyframeInterval?: number;
  /** Store a short hash of the served HTML with each frame, so replay can prove it is byte-identical. Default true. */
  fidelity?: boolean;
  /** Replaces the default sanitizer (all three functions, or the ones given). */
  sanitizer?: Partial<Sanitizer>;
  /** Limits of the default sanitizer. */
  limits?: Partial<SanitizeLimits>;
  /** One top-level assign encoded longer than this is stored as a note instead. Default 256 Ki characters. */
  maxValueChars?: number;
  /** Default 1,000. */
  maxRecordings?: number;
  /** Default 7 days. */
  maxRecordingAgeMs?: number;
  /** Default 1 hour. */
  cleanupIntervalMs?: number;
  /** Default 3. */
  persistenceRetryAttempts?: number;
  /** First retry delay; doubles each attempt. Default 1,000. */
  persistenceRetryDelayMs?: number;
  /** Run the drain loop in a worker (default) or, with false, in the request thread. */
  worker?: boolean;
  /**
   * Directory of the crash journal; false for none. Private to the app: created 0700, refused if
   * another user owns it or could replace it. Default: `<storage path>/.journal`, else
   * `<tmp>/hono-replay-<uid>/<storage hash>`.
   */
  journal?: string | false;
  /** A worker whose heartbeat stops this long is replaced. Default 5,000. */
  heartbeatTimeoutMs?: number;
  /** Bytes of the SharedArrayBuffer ring (a power of two). Default 4 MiB. */
  ringBytes?: number;
  /**
   * Characters queued outside a full ring before events are dropped (and counted). Default 8 Mi.
   * The worker holds at most as many (or a ring's worth) of frames the store has not taken (an
   * outage, a full disk); past that it stops reading the ring.
   */
  overflowLimit?: number;
  /** Default "hono_replay". */
  cookieName?: string;
  /** Where the client snippet's pagehide beacon posts. Default "/__replay/leave". */
  beaconPath?: string;
  /**
   * Signs session ids, so a session id the server did not issue is replaced. Instances
   * sharing a store must share it. Default: env HONO_REPLAY_SECRET, else the store's
   * shared secret (made once in the store: every instance on it agrees), else a random
   * per-process secret (a store without one: sessions do not cross processes).
   */
  secret?: string;
  /** Believe `x-forwarded-proto` for https (Secure, `__Host-` cookie) behind your proxy. Default false. */
  trustProxy?: boolean;
  /**
   * Key of the per-frame fidelity hash; never stored with recordings. Default: env
   * HONO_REPLAY_FIDELITY_KEY, else derived from `secret` (given or env), else a key of
   * this process for frames the sanitizer removed something from. See README "Privacy".
   */
  fidelityKey?: string;
  /** Allowlist mode: only the listed assigns/params are stored (globally or per view). */
  allowlist?: Allowlist;
  /** Request header that names an event. Default "x-replay-event". */
  eventHeader?: string;
  /** Form field that names an event. Default "_event". */
  eventField?: string;
  /** Sessions recorded in memory at once; past it new sessions are not recorded (counted in `engine.capped`). Default 10,000. */
  maxActiveRecordings?: number;
  /**
   * Where warnings and handled errors go: the recorder's, the persistence
   * worker's (it posts them to the request thread, which logs them here),
   * close()'s. Default `consoleLogger` (`console.warn` / `console.error`,
   * prefixed "hono-replay: "). Repeating faults are logged their 1st, 10th,
   * 100th… time (`Faults` in logger.ts).
   */
  logger?: Logger;
}

/** `ReplayOptions` with every default filled in, grouped by the part that uses them. */
export interface ResolvedOptions {
  views: Record<string, View>;
  storage: RecordingStorage;
  /** Where every part's warnings go. */
  logger: Logger;
  /** The event log: the ring and the overflow in front of it. */
  log: { ringBytes: number; overflowLimit: number };
  recorder: RecorderOptions;
  /** Key of the per-frame fidelity hash (recorder/fidelity.ts): configured, or this process's own. */
  fidelityKey: string;
  /** A secret was configured; without one the store's shared secret signs session ids (mod.ts). */
  secretConfigured: boolean;
  /** The worker host and its engine; `instanceId` is added per instance by createReplay. */
  host: Omit<HostOptions, "instanceId">;
  /** What `replay.store.cleanup()` and the worker's periodic cleanup keep. */
  cleanup: { maxRecordings: number; maxRecordingAgeMs: number };
}

/** Fills in the defaults and checks what can be checked without starting anything. */
export function resolveOptions(options: ReplayOptions): ResolvedOptions {
  if (!options?.views || Object.keys(options.views).length === 0) {
    throw new TypeError("createReplay: give the views to record, e.g. createReplay({ views: { SignupForm } })");
  }
  const o = { ...DEFAULTS, ...definedOnly(options) };
  if (o.format !== "tagged" && o.format !== "json") throw new TypeError(`createReplay: format must be "tagged" or "json"`);
  const logger = options.logger ?? consoleLogger;
  const storage = options.storage ?? fileStorage({ logger });
  const limits = { ...DEFAULTS.limits, ...options.limits };
  const cleanup = { maxRecordings: o.maxRecordings, maxRecordingAgeMs: o.maxRecordingAgeMs };
  // An empty string is no secret: unset.
  const configuredSecret = options.secret || env("HONO_REPLAY_SECRET", logger) || undefined;
  const configuredFidelityKey = resolveFidelityKey(options.fidelityKey, configuredSecret, logger);
  // Without one, frames that lost something are hashed with a key this process keeps in memory (recorder/fidelity.ts).
  const fidelityKey = configuredFidelityKey ?? randomToken(32);
  return {
    views: { ...options.views },
    storage,
    logger,
    log: { ringBytes: o.ringBytes, overflowLimit: o.overflowLimit },
    recorder: {
      views: options.views,
      settings: {
        format: o.format,
        sanitizer: { ...defaultSanitizer(limits), ...options.sanitizer },
        maxEvents: o.maxEvents,
        keyframeInterval: o.keyframeInterval,
        maxValueChars: o.maxValueChars,
      },
      session: options.session,
      sampleRate: o.sampleRate,
      idleTimeoutMs: o.idleTimeoutMs,
      beaconGraceMs: o.beaconGraceMs,
      cookieName: o.cookieName,
      beaconPath: o.beaconPath,
      eventHeader: o.eventHeader,
      eventField: o.eventField,
      fidelity: o.fidelity,
      fidelityKey,
      fidelityKeyConfigured: configuredFidelityKey !== undefined,
      builtInAssignsSanitizer: options.sanitizer?.sanitizeAssigns === undefined && options.sanitizer?.sanitizeDelta === undefined,
      secret: configuredSecret ?? randomToken(32),
      trustProxy: o.trustProxy,
      allowlist: options.allowlist && new AllowlistFilter(options.allowlist),
      maxActiveRecordings: o.maxActiveRecordings,
      logger,
    },
    fidelityKey,
    secretConfigured: configuredSecret !== undefined,
    host: {
      worker: o.worker,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs * ENGINE_IDLE_FACTOR,
      persistenceRetryAttempts: o.persistenceRetryAttempts,
      persistenceRetryDelayMs: o.persistenceRetryDelayMs,
      ...cleanup,
      cleanupIntervalMs: o.cleanupIntervalMs,
      journalDir: journalDir(options.journal, storage),
      // The engine holds as much for the store as the request thread queues for the ring (at least a ring's worth).
      maxHeldChars: Math.max(o.overflowLimit, o.ringBytes),
      logger,
    },
    cleanup,
  };
}

/** `{ x: undefined }` means "the default", as `x ?? default` did: such keys must not override DEFAULTS. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v != null)) as Partial<T>;
}

function journalDir(option: string | false | undefined, storage: RecordingStorage): string | undefined {
  if (option === false) return undefined;
  if (typeof option === "string") return option;
  if (storage.journalDir) return storage.journalDir;
  return defaultJournalDir(storage);
}

/**
 * A storage's journal directory when neither it nor the options name one: one per
 * storage (a journal must only ever be delivered to its own storage), under a
 * directory of this user's own, so that no other user can create it first and
 * plant journals in it (worker/private_dir.ts checks both).
 */
export function defaultJournalDir(storage: RecordingStorage): string | undefined {
  if (!storage.spec) return undefined;
  return join(tmpdir(), `hono-replay-${currentUid() ?? "journal"}`, shortHash(JSON.stringify(storage.spec)));
}
