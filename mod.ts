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

import type { MiddlewareHandler } from "hono";
import { createDashboard, type DashboardOptions } from "./dashboard/mod.ts";
import { InvalidIdError, type Recording, randomToken } from "./format/mod.ts";
import { TEST_HOOKS, type TestHooks } from "./internal.ts";
import { type ReplayOptions, resolveOptions } from "./options.ts";
import { Recorder, type ReplayEnv, type View } from "./recorder/mod.ts";
import { assertSinglePreact } from "./recorder/preact_check.ts";
import { Player, ReplayStore } from "./replay/mod.ts";
import { createRingBuffer, EngineHost, type EngineStats, EventLog } from "./worker/mod.ts";
import { islandRecorder, type IslandRecorderOptions } from "./islands/recorder.ts";
import type { Logger } from "./logger.ts";

export type { ReplayOptions } from "./options.ts";
export { DEFAULTS } from "./defaults.ts";
export { consoleLogger, type Logger } from "./logger.ts";
export type { Allowlist, AllowlistRules } from "./recorder/allowlist.ts";
export type { IslandRecorderOptions } from "./islands/recorder.ts";

export interface Replay {
  /** The Hono middleware: `app.use(replay.recorder())`. */
  recorder(): MiddlewareHandler<ReplayEnv>;
  /**
   * Where client-side islands post their recorded state (islands/): `app.use(replay.islands())`,
   * before `replay.recorder()`, like the dashboard. Accepts only the session's own active recording.
   */
  islands(options?: IslandRecorderOptions): MiddlewareHandler;
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
  /** Resolves once the persistence worker (or in-process engine) runs. */
  readonly ready: Promise<void>;
  /** Drains everything recorded so far and waits until what has ended is persisted. */
  flush(): Promise<EngineStats>;
  /**
   * Lets go of every recording of this instance, writes everything to the store
   * and stops the worker. A recording no other instance carries on is
   * finalized; one that continues elsewhere stays whole in the store. Call on
   * server shutdown (see `closeOnSignals`). Never rejects: what could not be
   * saved (the store kept failing, the disk is full) is warned and returned as
   * `unsaved`.
   */
  close(): Promise<CloseReport>;
  /**
   * Calls `close()` on SIGINT and SIGTERM (Deno Deploy sends SIGINT, most
   * process managers SIGTERM), then exits: with 0, or 1 when close() reports
   * recordings it could not save. Returns a function that removes the listeners.
   */
  closeOnSignals(options?: { exit?: boolean }): () => void;
  /** Diagnostics of the drain engine. */
  readonly engine: {
    readonly mode: "worker" | "in-process" | "starting";
    readonly restarts: number;
    readonly dropped: number;
    readonly recorderErrors: number;
    /** Requests that rendered a registered view but served it otherwise than as a string through c.html/c.body (streamed, a hand-built Response), or whose view could not be told apart from a concurrent request's (recorder/attach.ts): not recorded. */
    readonly unservedRenders: number;
    /** Recordings not started because `maxActiveRecordings` sessions were active (counted per request of such a session). */
    readonly capped: number;
    /** One pass of the store sweep and the orphan-journal scan, now (tests, operations). */
    maintain(): Promise<boolean>;
  };
}

/** What `close()` did not manage; also printed as a warning. */
export interface CloseReport {
  /** What could not be saved and where it is (a journal for the next start, or nowhere); undefined when everything was. */
  unsaved?: string;
  /** Frames dropped since start (a full ring and overflow: the storage could not keep up); each recording says how many of its own. */
  dropped: number;
  /** The engine's last stats, when it answered. */
  stats?: EngineStats;
}

export function createReplay(options: ReplayOptions): Replay {
  const o = resolveOptions(options);
  assertSinglePreact(); // two copies of preact render every page empty: refuse to start, saying what to do
  const buffer = createRingBuffer(o.log.ringBytes);
  const log = new EventLog(buffer, { overflowLimit: o.log.overflowLimit });
  const recorder = new Recorder(log, o.recorder);
  // The instance id names this instance's segments, journal and leases in the shared store.
  const hostStarting = (async () => EngineHost.start(buffer, o.storage, { ...o.host, instanceId: randomToken(12) }))();
  let host: EngineHost | undefined;
  // No configured secret: the store's shared one, so instances sharing the store accept each other's sessions.
  const secretReady = o.secretConfigured || !o.storage.sharedSecret ? Promise.resolve() : recorder.useSecretFrom(
    o.storage.sharedSecret().catch((error) => {
      o.logger.warn(`the store gave no shared secret (${(error as Error)?.message ?? error}); session ids are signed with this process's own key, so sessions do not cross instances: configure \`secret\``);
      return undefined;
    }),
  );
  const ready = Promise.all([hostStarting, secretReady]).then(([h]) => void (host = h));
  let closed: Promise<CloseReport> | undefined;

  const replay: Replay = {
    recorder: () => recorder.middleware(),
    dashboard: (dashboardOptions) => createDashboard(replay, dashboardOptions),
    store: new ReplayStore(o.storage, () => hostStarting, o.cleanup, { logger: o.logger }),
    views: o.views,
    ready,
    player(recording) {
      const view = o.views[recording.view];
      if (!view) throw new InvalidIdError(recording.view);
      return new Player(recording, view, o.fidelityKey);
    },
    clientScript: () => clientScript(o.recorder.beaconPath),
    islands: (islandOptions) =>
      islandRecorder({
        log,
        format: o.recorder.settings.format,
        sanitizer: o.recorder.settings.sanitizer,
        session: (c) => recorder.sessionOf(c),
        sampleRate: o.recorder.sampleRate,
        idleTimeoutMs: o.recorder.idleTimeoutMs,
        beaconGraceMs: o.recorder.beaconGraceMs,
        fidelity: o.recorder.fidelity,
      }, islandOptions),
    async flush() {
      await log.drainOverflow();
      return (await hostStarting).request<EngineStats>({ type: "flush" });
    },
    close() {
      closed ??= closeReplay(recorder, log, hostStarting, o.storage, o.logger);
      return closed;
    },
    closeOnSignals: (signalOptions) => closeOnSignals(() => replay.close(), signalOptions?.exit ?? true, o.logger),
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
      maintain: async () => (await hostStarting).request<boolean>({ type: "maintain" }),
    },
  };
  Object.defineProperty(replay, TEST_HOOKS, { value: testHooksOf(() => host, hostStarting, recorder, log) });
  return replay;
}

/** Ends every recording, saves what the store takes, stops the engine and the storage; says what it could not save. */
async function closeReplay(recorder: Recorder, log: EventLog, hostStarting: Promise<EngineHost>, storage: { close?(): Promise<void> }, logger: Logger): Promise<CloseReport> {
  recorder.endAll();
  const host = await hostStarting;
  await closeEngine(host, log, logger);
  const report = await host.close();
  await storage.close?.();
  return { unsaved: report.unfinished, dropped: log.droppedTotal, stats: report.stats };
}

function testHooksOf(host: () => EngineHost | undefined, hostStarting: Promise<EngineHost>, recorder: Recorder, log: EventLog): TestHooks {
  return {
    crashWorker: () => host()?.crashWorker(),
    hangWorker: (ms) => host()?.hangWorker(ms),
    gcWorker: () => host()?.collectWorkerGarbage(),
    stats: async () => (await hostStarting).request<EngineStats>({ type: "stats" }),
    useClock: (now) => void (recorder.now = now),
    sweepRecorder: () => recorder.sweep(recorder.now()),
    loopTurns: () => log.drainerBeats,
  };
}

/**
 * Moves what waits in the request thread's overflow into the ring, the engine
 * reading it whatever it holds; what cannot be moved (no engine answers) is
 * dropped and counted, so that close() goes on to save the rest.
 */
async function closeEngine(host: EngineHost, log: EventLog, logger: Logger): Promise<void> {
  await host.request({ type: "closing" }).catch((error) => logger.warn(`closing: ${(error as Error)?.message ?? error}`));
  try {
    await log.drainOverflow();
  } catch (error) {
    const dropped = log.dropPending();
    logger.warn(`${(error as Error).message}: ${dropped} frame(s) still queued were dropped (counted in engine.dropped)`);
  }
}

function closeOnSignals(close: () => Promise<CloseReport>, exit: boolean, logger: Logger): () => void {
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => {
    void close().then(
      (report) => exit && exitProcess(report.unsaved ? 1 : 0),
      (error) => {
        logger.warn(`close() failed on shutdown: ${(error as Error)?.message ?? error}`);
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
export type { CleanupPolicy, CorruptRecording, Erasure, RecordingStorage, SortKey, StorageSpec, SummaryFilter, SummaryPage } from "./storage/mod.ts";
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
export { type ErasureReport, type FidelityReport, Player, reconstruct, type RenderedFrame, ReplayStore, Timeline } from "./replay/mod.ts";
export type { EngineStats } from "./worker/mod.ts";
export { createDashboard, type DashboardOptions } from "./dashboard/mod.ts";
