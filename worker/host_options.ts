/**
 * What the worker host (host.ts) is configured with and depends on, what it
 * keeps per worker and per request, and the policies its options decide
 * (restart backoff and limit, timeouts).
 *
 * Invariants, and why:
 * - Every default is in `HOST_DEFAULTS` (defaults.ts); these helpers read it,
 *   nothing here writes a number of its own but the start bound's margin.
 * - What the host posts to a worker is `engineOptionsOf(options)`: the engine's
 *   own options, plain data. The host's own (the `logger`, a function, above
 *   all) cannot be posted and are left out.
 * - Replacing workers is bounded (`RestartWindow`): `restartLimit` deaths in
 *   `restartWindowMs` and the host gives up; between deaths the wait doubles
 *   from `restartDelayMs` to `restartDelayMaxMs`, so that a worker that cannot
 *   start does not restart in a tight loop.
 * - Spawning, time and where warnings go are injectable (`HostDeps`), so tests
 *   drive deaths and backoff without sleeping; by default warnings and errors
 *   go to the `logger` option.
 */

import { HOST_DEFAULTS } from "../defaults.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import type { EngineOptions, EngineRequest, EngineStats } from "./engine_types.ts";
import { backgroundTimer, spawnWorker, type WorkerHandle } from "./runtime.ts";

export interface HostOptions extends EngineOptions {
  /** false runs the engine in the request thread. Default true (`DEFAULTS.worker`). */
  worker?: boolean;
  /** A worker whose heartbeat stops this long is replaced. Default: `HOST_DEFAULTS.heartbeatTimeoutMs`. */
  heartbeatTimeoutMs?: number;
  /** A worker not ready this long after it was started counts as failed to start. Default: `HOST_DEFAULTS.workerStartTimeoutMs`. */
  workerStartTimeoutMs?: number;
  /**
   * Worker deaths (failing to start included) within `restartWindowMs` after
   * which the engine runs in-process for the rest of the process. Default: `HOST_DEFAULTS.restartLimit`.
   */
  restartLimit?: number;
  /** The window `restartLimit` counts deaths in. Default: `HOST_DEFAULTS.restartWindowMs`. */
  restartWindowMs?: number;
  /** Wait before replacing a dead worker; doubles with each death in the window. Default: `HOST_DEFAULTS.restartDelayMs`. */
  restartDelayMs?: number;
  /** The longest wait before replacing a dead worker. Default: `HOST_DEFAULTS.restartDelayMaxMs`. */
  restartDelayMaxMs?: number;
  /**
   * The longest flush(), close() or any other request to the engine waits
   * before it settles and reports what was not done (flush rejects, close warns
   * and resolves). Default `HOST_DEFAULTS.shutdownTimeoutBaseMs` (30 000 ms: a busy machine drains a full ring slowly) plus the time the save retries can take,
   * persistenceRetryDelayMs × (2^(persistenceRetryAttempts − 1) − 1): 33 000 ms
   * with createReplay's defaults.
   */
  shutdownTimeoutMs?: number;
  /** Where the host's and the engine's warnings go (the worker's too: it posts them here). Default `consoleLogger`. */
  logger?: Logger;
}

/** What close() could do; `unfinished` says what it could not, and is also warned. */
export interface CloseReport {
  stats?: EngineStats;
  unfinished?: string;
}

/** Spawning and time, injectable so tests drive deaths and backoff without sleeping. */
export interface HostDeps {
  spawn: typeof spawnWorker;
  now(): number;
  /** Runs `fn` after `ms`; a timer with keepAlive false does not hold the process open. Returns a cancel. */
  timer(fn: () => void, ms: number, keepAlive: boolean): () => void;
  warn(message: string): void;
  /** An error logged by the worker's engine (its stack or message as text). Default: `warn` with the error appended. */
  error?(message: string, error?: string): void;
}

/** A request to the engine, until it is answered. */
export interface Pending {
  request: EngineRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** The worker generation it was posted to; 0 while not posted. */
  postedTo: number;
}

/** One worker's life. Callbacks hold this object, never the handle, so they work before the handle exists. */
export interface Life {
  generation: number;
  handle?: WorkerHandle;
  ready: boolean;
  dead: boolean;
  /** It asked for the ring (its modules are loaded): no bridge starts for it from then on. */
  attached: boolean;
  cancelStartTimer?: () => void;
}

/** The real dependencies, with warnings and errors going to the `logger` option; `deps` overrides any of them. */
export function hostDeps(options: HostOptions, deps: Partial<HostDeps>): HostDeps {
  const logger = options.logger ?? consoleLogger;
  return {
    spawn: spawnWorker,
    now: () => Date.now(),
    timer(fn, ms, keepAlive) {
      if (!keepAlive) return backgroundTimer(fn, ms);
      const id = setTimeout(fn, ms);
      return () => clearTimeout(id);
    },
    warn: (message) => logger.warn(message),
    error: (message, error) => logger.error(message, error),
    ...deps,
  };
}

/** The engine's own options: what is posted to a worker (plain data only). */
export function engineOptionsOf(options: HostOptions): EngineOptions {
  const { worker: _w, heartbeatTimeoutMs: _h, workerStartTimeoutMs: _s, restartLimit: _l, restartWindowMs: _rw, restartDelayMs: _rd, restartDelayMaxMs: _rm, shutdownTimeoutMs: _t, logger: _g, ...engine } = options;
  return engine;
}

/** How long starting may take in all before the host falls back: every allowed try, its start timeout and its backoff. */
export function startBound(o: HostOptions): number {
  return (o.restartLimit ?? HOST_DEFAULTS.restartLimit) * ((o.workerStartTimeoutMs ?? HOST_DEFAULTS.workerStartTimeoutMs) + (o.restartDelayMaxMs ?? HOST_DEFAULTS.restartDelayMaxMs)) + 1_000;
}

/** `shutdownTimeoutMs`, or its default: see `HostOptions.shutdownTimeoutMs`. */
export function requestTimeoutMs(o: HostOptions): number {
  const { shutdownTimeoutMs, persistenceRetryAttempts: attempts, persistenceRetryDelayMs: delay } = o;
  return shutdownTimeoutMs ?? HOST_DEFAULTS.shutdownTimeoutBaseMs + Math.max(0, delay * (2 ** Math.max(0, attempts - 1) - 1));
}

/** Worker deaths within `restartWindowMs`, and what they call for: a replacement after a backoff, or giving up. */
export class RestartWindow {
  /** When workers died, within the window. */
  private deaths: number[] = [];
  /** The first death's reason, for the fallback warning. */
  firstFailure?: string;

  constructor(private readonly o: HostOptions, private readonly now: () => number) {}

  /** Counts a death: the wait before replacing the worker (doubling), or undefined when `restartLimit` is reached. */
  died(reason: string): number | undefined {
    const now = this.now();
    const window = this.o.restartWindowMs ?? HOST_DEFAULTS.restartWindowMs;
    this.deaths = this.deaths.filter((t) => now - t < window);
    this.deaths.push(now);
    this.firstFailure ??= reason;
    if (this.deaths.length >= (this.o.restartLimit ?? HOST_DEFAULTS.restartLimit)) return undefined;
    const base = this.o.restartDelayMs ?? HOST_DEFAULTS.restartDelayMs;
    return Math.min(this.o.restartDelayMaxMs ?? HOST_DEFAULTS.restartDelayMaxMs, base * 2 ** (this.deaths.length - 1));
  }

  /** Deaths in the window. */
  get count(): number {
    return this.deaths.length;
  }

  /** Seconds since the first death in the window, as written in warnings. */
  seconds(): string {
    return ((this.now() - (this.deaths[0] ?? this.now())) / 1000).toFixed(1);
  }
}

export function hasWorkers(): boolean {
  // Node always has worker_threads; Deno and browsers have Worker.
  return typeof Worker !== "undefined" || typeof (globalThis as { process?: unknown }).process !== "undefined";
}

/** Terminates a worker, waiting at most `ms`: a thread stuck in a system call must not hold up the fallback or close(). */
export function terminateWithin(handle: WorkerHandle, ms: number, deps: HostDeps, warn: (message: string) => void): Promise<void> {
  const gone = handle.terminate().catch((error) => warn(`terminating the persistence worker failed: ${(error as Error)?.message ?? error}`));
  return new Promise<void>((resolve) => {
    const cancel = deps.timer(resolve, ms, false);
    void gone.then(() => (cancel(), resolve()));
  });
}
