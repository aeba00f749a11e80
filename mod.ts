/**
 * hono-replay: session recording and replay for server-rendered Hono + Preact apps.
 *
 * ```ts
 * const replay = createReplay({ views: { SignupForm }, storage: fileStorage({ path: "replay_recordings" }) });
 * app.use(replay.recorder());
 * app.get("/signup", (c) => c.var.replay.render(SignupForm, { form }));
 * ```
 * @module
 */

import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context, MiddlewareHandler } from "hono";
import { createDashboard, type DashboardOptions } from "./dashboard/mod.ts";
import { type Format, InvalidIdError, type Recording, randomToken, shortHash } from "./format/mod.ts";
import { AllowlistFilter, type Allowlist } from "./recorder/allowlist.ts";
import { env, resolveFidelityKey } from "./recorder/fidelity.ts";
import { defaultLimits, defaultSanitizer, Recorder, type ReplayEnv, type SanitizeLimits, type Sanitizer, type View } from "./recorder/mod.ts";
import { assertSinglePreact } from "./recorder/preact_check.ts";
import { Player, ReplayStore } from "./replay/mod.ts";
import { islandRecorder, type IslandRecorderOptions } from "./islands/recorder.ts";
import { fileStorage, type RecordingStorage } from "./storage/mod.ts";
import { createRingBuffer, EngineHost, type EngineStats, EventLog } from "./worker/mod.ts";

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
  /** Directory of the crash journal and spilled recordings; false for none. Default: `<storage path>/.journal`, else a temp dir. */
  journal?: string | false;
  /** A worker whose heartbeat stops this long is replaced. Default 5,000. */
  heartbeatTimeoutMs?: number;
  /** Bytes of the SharedArrayBuffer ring (a power of two). Default 4 MiB. */
  ringBytes?: number;
  /** Characters queued outside a full ring before events are dropped (and counted). Default 8 Mi. */
  overflowLimit?: number;
  /** Default "hono_replay". */
  cookieName?: string;
  /** Where the client snippet's pagehide beacon posts. Default "/__replay/leave". */
  beaconPath?: string;
  /**
   * Signs session ids, so a session id the server did not issue is replaced. Instances
   * sharing a store must share it. Default: env HONO_REPLAY_SECRET, else a random
   * per-process secret (sessions then do not survive a restart or cross instances).
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
}

export interface Replay {
  /** The Hono middleware: `app.use(replay.recorder())`. */
  recorder(): MiddlewareHandler<ReplayEnv>;
  /**
   * The replay dashboard as a Hono app: `app.route("/replay", replay.dashboard({ authorize }))`.
   * Mount it before the recorder, so that using it is not recorded. It answers 403
   * until `authorize` (or, for local development, `dangerouslyAllowOpenAccess`) is given.
   */
  dashboard(options?: DashboardOptions): ReturnType<typeof createDashboard>;
  readonly store: ReplayStore;
  readonly views: Readonly<Record<string, View>>;
  /** A player for a recording, with its registered view. */
  player(recording: Recording): Player;
  /** An inline script for pages: sends the pagehide beacon so a closed tab ends its recordings early. */
  clientScript(): string;
  /**
   * Where client-side islands post their recorded state (islands/): `app.use(replay.islands())`,
   * before `replay.recorder()`, like the dashboard. Accepts only the session's own active recording.
   */
  islands(options?: IslandRecorderOptions): MiddlewareHandler;
  /** Resolves once the persistence worker (or in-process engine) runs. */
  readonly ready: Promise<void>;
  /** Drains everything recorded so far and waits until what has ended is persisted. */
  flush(): Promise<EngineStats>;
  /**
   * Lets go of every recording of this instance, writes everything to the store
   * and stops the worker. A recording no other instance carries on is
   * finalized; one that continues elsewhere stays whole in the store. Call on
   * server shutdown (see `closeOnSignals`).
   */
  close(): Promise<void>;
  /**
   * Calls `close()` on SIGINT and SIGTERM (Deno Deploy sends SIGINT, most
   * process managers SIGTERM), then exits. Returns a function that removes the
   * listeners.
   */
  closeOnSignals(options?: { exit?: boolean }): () => void;
  /** Diagnostics and test hooks for the drain engine. */
  readonly engine: {
    readonly mode: "worker" | "in-process" | "starting";
    readonly restarts: number;
    readonly dropped: number;
    readonly recorderErrors: number;
    /** Requests that rendered a registered view but served it otherwise than as a string through c.html/c.body (streamed, a hand-built Response): not recorded. */
    readonly unservedRenders: number;
    /** Recordings not started because `maxActiveRecordings` sessions were active (counted per request of such a session). */
    readonly capped: number;
    crashWorker(): void;
    hangWorker(ms: number): void;
    /** One pass of the store sweep and the orphan-journal scan, now (tests, operations). */
    maintain(): Promise<boolean>;
  };
}

export function createReplay(options: ReplayOptions): Replay {
  if (!options?.views || Object.keys(options.views).length === 0) {
    throw new TypeError("createReplay: give the views to record, e.g. createReplay({ views: { SignupForm } })");
  }
  assertSinglePreact(); // two copies of preact render every page empty: refuse to start, saying what to do
  const storage = options.storage ?? fileStorage();
  const format = options.format ?? "tagged";
  if (format !== "tagged" && format !== "json") throw new TypeError(`createReplay: format must be "tagged" or "json"`);
  const limits = { ...defaultLimits, ...options.limits };
  const sanitizer: Sanitizer = { ...defaultSanitizer(limits), ...options.sanitizer };
  const idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
  const cleanup = {
    maxRecordings: options.maxRecordings ?? 1_000,
    maxRecordingAgeMs: options.maxRecordingAgeMs ?? 7 * 24 * 3_600_000,
  };

  const configuredSecret = options.secret ?? env("HONO_REPLAY_SECRET");
  const configuredFidelityKey = resolveFidelityKey(options.fidelityKey, configuredSecret);
  // Without one, frames that lost something are hashed with a key this process keeps in memory (recorder/fidelity.ts).
  const fidelityKey = configuredFidelityKey ?? randomToken(32);

  const buffer = createRingBuffer(options.ringBytes ?? 4 * 1024 * 1024);
  const log = new EventLog(buffer, { overflowLimit: options.overflowLimit });
  const recorder = new Recorder(log, {
    views: options.views,
    settings: {
      format,
      sanitizer,
      maxEvents: options.maxEvents ?? 10_000,
      keyframeInterval: options.keyframeInterval ?? 50,
      maxValueChars: options.maxValueChars ?? 256 * 1024,
    },
    session: options.session,
    sampleRate: options.sampleRate ?? 1,
    idleTimeoutMs,
    beaconGraceMs: options.beaconGraceMs ?? 5_000,
    cookieName: options.cookieName ?? "hono_replay",
    beaconPath: options.beaconPath ?? "/__replay/leave",
    eventHeader: options.eventHeader ?? "x-replay-event",
    eventField: options.eventField ?? "_event",
    fidelity: options.fidelity ?? true,
    fidelityKey,
    fidelityKeyConfigured: configuredFidelityKey !== undefined,
    secret: configuredSecret ?? randomToken(32),
    trustProxy: options.trustProxy ?? false,
    allowlist: options.allowlist && new AllowlistFilter(options.allowlist),
    maxActiveRecordings: options.maxActiveRecordings ?? 10_000,
  });

  // Names this instance's segments, journal and leases in the shared store.
  const instanceId = randomToken(12);
  const hostStarting = (async () =>
    EngineHost.start(buffer, storage, {
      worker: options.worker,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      // The recorder ends idle recordings; the engine's own check is a safety net for lost end frames.
      idleTimeoutMs: idleTimeoutMs * 2,
      persistenceRetryAttempts: options.persistenceRetryAttempts ?? 3,
      persistenceRetryDelayMs: options.persistenceRetryDelayMs ?? 1_000,
      maxRecordings: cleanup.maxRecordings,
      maxRecordingAgeMs: cleanup.maxRecordingAgeMs,
      cleanupIntervalMs: options.cleanupIntervalMs ?? 3_600_000,
      journalDir: journalDir(options.journal, storage),
      instanceId,
    }))();
  let host: EngineHost | undefined;
  const ready = hostStarting.then((h) => void (host = h));
  let closed: Promise<void> | undefined;

  const store = new ReplayStore(storage, () => hostStarting, cleanup);
  const viewsByName = { ...options.views };

  const replay: Replay = {
    recorder: () => recorder.middleware(),
    dashboard: (dashboardOptions) => createDashboard(replay, dashboardOptions),
    store,
    views: viewsByName,
    ready,
    player(recording) {
      const view = viewsByName[recording.view];
      if (!view) throw new InvalidIdError(recording.view);
      return new Player(recording, view, fidelityKey);
    },
    clientScript: () => clientScript(options.beaconPath ?? "/__replay/leave"),
    islands: (islandOptions) =>
      islandRecorder({
        log,
        format,
        sanitizer,
        session: (c) => recorder.sessionOf(c),
        sampleRate: options.sampleRate ?? 1,
        idleTimeoutMs,
        beaconGraceMs: options.beaconGraceMs ?? 5_000,
        fidelity: options.fidelity ?? true,
      }, islandOptions),
    async flush() {
      await log.drainOverflow();
      return (await hostStarting).request<EngineStats>({ type: "flush" });
    },
    close() {
      closed ??= (async () => {
        recorder.endAll();
        await log.drainOverflow();
        await (await hostStarting).close();
        await storage.close?.();
      })();
      return closed;
    },
    closeOnSignals: (signalOptions) => closeOnSignals(() => replay.close(), signalOptions?.exit ?? true),
    engine: {
      get mode() {
        return host?.mode ?? "starting";
      },
      get restarts() {
        return host?.restarts ?? 0;
      },
      get dropped() {
        return log.droppedTotal;
      },
      get recorderErrors() {
        return recorder.errors;
      },
      get unservedRenders() {
        return recorder.unserved;
      },
      get capped() {
        return recorder.capped;
      },
      crashWorker: () => host?.crashWorker(),
      hangWorker: (ms) => host?.hangWorker(ms),
      maintain: async () => (await hostStarting).request<boolean>({ type: "maintain" }),
    },
  };
  return replay;
}

function journalDir(option: string | false | undefined, storage: RecordingStorage): string | undefined {
  if (option === false) return undefined;
  if (typeof option === "string") return option;
  const path = (storage as { path?: unknown }).path;
  if (typeof path === "string") return join(path, ".journal");
  // One directory per storage: a journal or a spilled recording must only ever be delivered to its own storage.
  return storage.spec ? join(tmpdir(), "hono-replay-journal", shortHash(JSON.stringify(storage.spec))) : undefined;
}

function closeOnSignals(close: () => Promise<void>, exit: boolean): () => void {
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => {
    void close().then(
      () => exit && exitProcess(0),
      (error) => {
        console.warn(`hono-replay: close() failed on shutdown: ${(error as Error)?.message ?? error}`);
        if (exit) exitProcess(1);
      },
    );
  };
  const deno = (globalThis as { Deno?: { addSignalListener(s: string, f: () => void): void; removeSignalListener(s: string, f: () => void): void } }).Deno;
  for (const signal of signals) {
    if (deno) deno.addSignalListener(signal, onSignal);
    else process.on(signal, onSignal);
  }
  return () => {
    for (const signal of signals) {
      if (deno) deno.removeSignalListener(signal, onSignal);
      else process.off(signal, onSignal);
    }
  };
}

function exitProcess(code: number): void {
  const deno = (globalThis as { Deno?: { exit(code: number): never } }).Deno;
  if (deno) deno.exit(code);
  else process.exit(code);
}

function clientScript(beaconPath: string): string {
  return `<script>addEventListener("pagehide",function(e){if(!e.persisted&&navigator.sendBeacon)navigator.sendBeacon(${JSON.stringify(beaconPath)})})</script>`;
}

export {
  type DenoKvStorage,
  denoKvStorage,
  type DenoKvStorageOptions,
  fileStorage,
  type FileStorageOptions,
  memoryStorage,
  postgresMigrationSql,
  type PostgresStorage,
  postgresStorage,
  type PostgresStorageOptions,
} from "./storage/mod.ts";
export type { CleanupPolicy, RecordingStorage, SortKey, StorageSpec, SummaryFilter, SummaryPage } from "./storage/mod.ts";
export {
  CorruptRecordingError,
  decode,
  encode,
  type Format,
  InvalidIdError,
  type Recording,
  RecordingNotFoundError,
  type RecordingSummary,
  ReplayError,
  type ReplayEvent,
} from "./format/mod.ts";
export {
  defaultSanitizer,
  type HonoComponent,
  honoView,
  isSensitiveKey,
  type PropsOf,
  type ReplayContext,
  type ReplayEnv,
  type SanitizeLimits,
  type Sanitizer,
  sanitizeValue,
  type View,
} from "./recorder/mod.ts";
export type { Allowlist, AllowlistRules } from "./recorder/allowlist.ts";
export type { IslandRecorderOptions } from "./islands/recorder.ts";
export { type FidelityReport, Player, reconstruct, type RenderedFrame, ReplayStore, Timeline } from "./replay/mod.ts";
export type { EngineStats } from "./worker/mod.ts";
export { createDashboard, type DashboardOptions } from "./dashboard/mod.ts";
