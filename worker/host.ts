/**
 * The request thread's handle on the drain engine: a persistence worker when one
 * can be started and the storage can be opened inside it, the same engine
 * in-process otherwise. A worker that dies (an uncaught error, a hang that stops
 * its heartbeat) is replaced by one that attaches to the same ring and journal.
 *
 * Invariants, and why:
 * - At most one drainer reads the ring. A dead or hung worker is terminated
 *   (awaited) before its replacement, or the in-process engine, takes the ring.
 * - Frames are journaled while a worker is replaced. Between a death and the
 *   replacement attaching (it asks once its modules are loaded, which takes a
 *   while) this thread journals the ring in its place (worker/bridge.ts), and
 *   stops before answering: a process killed meanwhile loses no more than the
 *   journal's usual last second.
 * - Replacing workers is bounded. A worker that fails to start, is not ready
 *   within `workerStartTimeoutMs`, dies or stops its heartbeat counts as a death;
 *   after `restartLimit` deaths within `restartWindowMs` the host gives up on
 *   workers for the rest of the process and runs the engine in-process, with one
 *   warning that says why and what to do. Between deaths it waits, doubling from
 *   `restartDelayMs` up to `restartDelayMaxMs`: a worker that cannot start (Deno
 *   without --allow-read, an unwritable journal) must not restart in a tight loop.
 * - Every request settles. It is answered by the worker, asked again of its
 *   replacement or of the in-process engine, or rejected after
 *   `shutdownTimeoutMs` with what was not done. close() never rejects: it
 *   resolves by that deadline and reports (warns) what it could not finish.
 * - Nothing here keeps the process alive by itself. Watchdog and restart timers
 *   are unref'd; the worker and a deadline timer are ref'd only while someone
 *   awaits an answer; close() terminates the worker. After close() settles the
 *   process can exit.
 * - A warning from the engine that repeats (the same text but for ids and
 *   numbers, like one per recording while the storage is down) is printed once
 *   and then only counted; close() says how many were not printed. The host's
 *   own warnings (a worker died, the fallback, what close could not do) are
 *   rare and always printed.
 */

import { join } from "node:path";
import { DEFAULTS, HOST_DEFAULTS } from "../defaults.ts";
import type { RecordingStorage } from "../storage/mod.ts";
import { JournalBridge } from "./bridge.ts";
import { Engine, type EngineOptions, type EngineRequest, type EngineStats, journalName } from "./engine.ts";
import type { FromWorker, ToWorker } from "./entry.ts";
import { backgroundTimer, isDeno, spawnWorker, type WorkerHandle } from "./runtime.ts";
import { RingReader } from "./ring.ts";

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
}

const realDeps: HostDeps = {
  spawn: spawnWorker,
  now: () => Date.now(),
  timer(fn, ms, keepAlive) {
    if (!keepAlive) return backgroundTimer(fn, ms);
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
  warn: (message) => console.warn(`hono-replay: ${message}`),
};

interface Pending {
  request: EngineRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** The worker generation it was posted to; 0 while not posted. */
  postedTo: number;
}

/** One worker's life. Callbacks hold this object, never the handle, so they work before the handle exists. */
interface Life {
  generation: number;
  handle?: WorkerHandle;
  ready: boolean;
  dead: boolean;
  /** It asked for the ring (its modules are loaded): no bridge starts for it from then on. */
  attached: boolean;
  cancelStartTimer?: () => void;
}

/** How often the bridge journals the ring, as often as an idle worker looks at it. */
const BRIDGE_POLL_MS = 10;

export class EngineHost {
  private life?: Life;
  private engine?: Engine;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private generation = 0;
  private closed = false;
  private closing?: Promise<CloseReport>;
  private stopWatchdog?: () => void;
  private cancelRestart?: () => void;
  /** When workers died, within the window. */
  private deaths: number[] = [];
  private firstFailure?: string;
  /** Resolves once the first worker is ready or the host fell back: what start() waits for. */
  private settledStart!: () => void;
  private readonly started = new Promise<void>((resolve) => (this.settledStart = resolve));
  private fallingBack?: Promise<void>;
  /** Worker terminations in progress: the next drainer waits for them. */
  private terminating: Promise<void> = Promise.resolve();
  private readonly seenWarnings = new Map<string, number>();
  /** This thread journaling the ring while a dead worker is replaced. */
  private bridge?: JournalBridge;
  private cancelBridgeTick?: () => void;
  private journalPath?: Promise<string>;
  /** How many times a dead worker was replaced. */
  restarts = 0;
  /** Why the host gave up on workers, once it has. */
  fallbackReason?: string;
  /** Warnings not printed because the same one was printed before. */
  suppressedWarnings = 0;

  private constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly storage: RecordingStorage,
    private readonly options: HostOptions,
    private readonly deps: HostDeps,
  ) {}

  /** Resolves once a worker is ready or the engine runs in-process. */
  static async start(buffer: SharedArrayBuffer, storage: RecordingStorage, options: HostOptions, deps: Partial<HostDeps> = {}): Promise<EngineHost> {
    const host = new EngineHost(buffer, storage, options, { ...realDeps, ...deps });
    const canUseWorker = options.worker !== false && storage.spec !== undefined && hasWorkers();
    if (canUseWorker) {
      host.watchHeartbeat();
      // Holds the process open while it starts (the worker itself does not), and bounds the start.
      const o = options;
      const bound = (o.restartLimit ?? HOST_DEFAULTS.restartLimit) * ((o.workerStartTimeoutMs ?? HOST_DEFAULTS.workerStartTimeoutMs) + (o.restartDelayMaxMs ?? HOST_DEFAULTS.restartDelayMaxMs)) + 1_000;
      const cancel = host.deps.timer(() => void host.fallBack(`no worker was ready within ${bound} ms`, false), bound, true);
      void host.spawn();
      await host.started;
      cancel();
    } else {
      host.engine = await host.startInProcess(options);
    }
    return host;
  }

  get mode(): "worker" | "in-process" {
    return this.engine ? "in-process" : "worker";
  }

  private get timeoutMs(): number {
    const { shutdownTimeoutMs, persistenceRetryAttempts: attempts, persistenceRetryDelayMs: delay } = this.options;
    return shutdownTimeoutMs ?? HOST_DEFAULTS.shutdownTimeoutBaseMs + Math.max(0, delay * (2 ** Math.max(0, attempts - 1) - 1));
  }

  request<T>(request: EngineRequest): Promise<T> {
    // After close nothing is active (nothing to send, nothing to erase here), and no worker is left to ask.
    if (this.closed) {
      if (request.type === "sendSegments" || request.type === "erase") return Promise.resolve(undefined as T);
      return Promise.reject(new Error(`hono-replay: ${request.type} after close()`));
    }
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const ms = this.timeoutMs;
      const cancel = this.deps.timer(() => {
        if (!this.pending.delete(id)) return;
        this.keepWorkerAlive();
        reject(new Error(`hono-replay: ${request.type} got no answer within ${ms} ms (${this.describe()}); raise shutdownTimeoutMs if the storage is only slow`));
      }, ms, true);
      const done = <A extends unknown[]>(f: (...a: A) => void) => (...a: A) => {
        cancel();
        f(...a);
      };
      this.pending.set(id, { request, resolve: done(resolve as (v: unknown) => void), reject: done(reject), postedTo: 0 });
      this.dispatch();
    });
  }

  /** For tests: makes the worker die of an uncaught error, as a bug would. */
  crashWorker(): void {
    this.post({ type: "crash" });
  }

  /** For tests run with --expose-gc: the worker collects its garbage (the request thread's `gc()` reaches only its own heap). */
  collectWorkerGarbage(): void {
    this.post({ type: "gc" });
  }

  /** For tests: blocks the worker's thread for `ms`, as an endless loop in a bug would. */
  hangWorker(ms: number): void {
    this.post({ type: "hang", ms });
  }

  /**
   * Ends every recording, persists what it can and stops the worker, within
   * shutdownTimeoutMs. Never rejects: what could not be done is warned and
   * returned.
   */
  close(): Promise<CloseReport> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<CloseReport> {
    const report: CloseReport = {};
    try {
      report.stats = await this.request<EngineStats>({ type: "shutdown" });
    } catch (error) {
      report.unfinished = `close() could not finish: ${(error as Error).message}. Recordings still active were not saved; a journal, if there is one, keeps them for the next start to recover`;
    }
    this.closed = true;
    // What it journaled stays there for the next start (the report says so).
    this.stopBridge();
    this.stopWatchdog?.();
    this.cancelRestart?.();
    const life = this.life;
    this.life = undefined;
    if (life) this.terminate(life);
    await this.terminating;
    // Whatever was still asked gets the answer a closed replay gives.
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.request(p.request).then(p.resolve, p.reject);
    }
    report.unfinished ??= unsaved(report.stats, this.options.journalDir);
    if (report.unfinished) this.deps.warn(report.unfinished);
    if (this.suppressedWarnings > 0) {
      this.deps.warn(`${this.suppressedWarnings} repeated warning(s) were counted and not printed`);
    }
    return report;
  }

  // ── workers ──────────────────────────────────────────────────────────────

  private async spawn(): Promise<void> {
    const life: Life = { generation: ++this.generation, ready: false, dead: false, attached: false };
    this.life = life;
    const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const entry = new URL(`./entry${ext}`, import.meta.url);
    const init: ToWorker = { type: "init", buffer: this.buffer, storage: this.storage.spec!, options: this.engineOptions(this.options) };
    let handle: WorkerHandle;
    try {
      handle = await this.deps.spawn(entry, init, {
        onMessage: (message) => this.onMessage(life, message as FromWorker),
        onExit: (reason) => this.onDeath(life, reason),
      });
    } catch (error) {
      this.onDeath(life, `could not be created: ${(error as Error)?.message ?? error}`);
      return;
    }
    life.handle = handle;
    // It may have died (or been given up on) while it was being created.
    if (life.dead || this.life !== life) return this.terminate(life);
    if (this.pending.size) handle.keepAlive(true);
    const ms = this.options.workerStartTimeoutMs ?? HOST_DEFAULTS.workerStartTimeoutMs;
    life.cancelStartTimer = this.deps.timer(() => this.onDeath(life, `not ready within ${ms} ms`), ms, false);
  }

  private onMessage(life: Life, m: FromWorker): void {
    if (life !== this.life) return;
    if (m.type === "ready") {
      life.ready = true;
      life.cancelStartTimer?.();
      this.settledStart();
      this.dispatch();
    } else if (m.type === "attach") {
      void this.attach(life);
    } else if (m.type === "failed") {
      this.onDeath(life, m.message);
    } else if (m.type === "warn") {
      this.warn(m.message);
    } else if (m.type === "reply") {
      this.settle(m);
    }
  }

  /** A worker is gone or must go: replace it after a backoff, or give up on workers. */
  private onDeath(life: Life, reason: string): void {
    if (life.dead) return;
    life.dead = true;
    life.cancelStartTimer?.();
    if (life !== this.life || this.closed) return;
    this.life = undefined;
    this.terminate(life);
    // Requests it had not answered go to whatever drains next.
    for (const p of this.pending.values()) if (p.postedTo === life.generation) p.postedTo = 0;
    const now = this.deps.now();
    const window = this.options.restartWindowMs ?? HOST_DEFAULTS.restartWindowMs;
    this.deaths = this.deaths.filter((t) => now - t < window);
    this.deaths.push(now);
    this.firstFailure ??= reason;
    if (this.deaths.length >= (this.options.restartLimit ?? HOST_DEFAULTS.restartLimit)) {
      void this.fallBack(reason, life.ready);
      return;
    }
    const base = this.options.restartDelayMs ?? HOST_DEFAULTS.restartDelayMs;
    const delay = Math.min(this.options.restartDelayMaxMs ?? HOST_DEFAULTS.restartDelayMaxMs, base * 2 ** (this.deaths.length - 1));
    // A worker that never started is retried quietly: the fallback warning, if it comes to that, says why.
    if (life.ready) this.deps.warn(`persistence worker died (${reason}); starting a new one in ${delay} ms`);
    void this.startBridge();
    this.cancelRestart = this.deps.timer(() => {
      this.cancelRestart = undefined;
      if (this.closed || this.engine || this.fallingBack) return;
      this.restarts++;
      void this.spawn();
    }, delay, false);
  }

  private terminate(life: Life): void {
    const handle = life.handle;
    if (!handle) return; // still being created: spawn() terminates it once it exists
    const ms = this.options.workerStartTimeoutMs ?? HOST_DEFAULTS.workerStartTimeoutMs;
    const gone = handle.terminate().catch((error) => this.warn(`terminating the persistence worker failed: ${(error as Error)?.message ?? error}`));
    // Bounded: a thread stuck in a system call must not hold up the fallback or close().
    const bounded = new Promise<void>((resolve) => {
      const cancel = this.deps.timer(resolve, ms, false);
      void gone.then(() => (cancel(), resolve()));
    });
    this.terminating = Promise.all([this.terminating, bounded]).then(() => {});
  }

  /** Gives up on workers: the same engine runs in this thread from now on. */
  private fallBack(reason: string, wasReady: boolean): Promise<void> {
    this.fallingBack ??= (async () => {
      this.stopWatchdog?.();
      this.cancelRestart?.();
      const life = this.life;
      this.life = undefined;
      if (life) (life.dead = true), this.terminate(life);
      const window = ((this.deps.now() - (this.deaths[0] ?? this.deps.now())) / 1000).toFixed(1);
      const tries = this.deaths.length;
      await this.terminating;
      this.stopBridge();
      let note = "";
      try {
        this.engine = await this.startInProcess(this.options);
      } catch (error) {
        // The journal directory cannot be used here either: drain without one.
        note = `, without a crash journal (${(error as Error)?.message ?? error}), so a crash of this process loses its active recordings`;
        this.engine = await this.startInProcess({ ...this.options, journalDir: undefined });
      }
      this.fallbackReason = reason;
      const what = wasReady ? `kept dying (${tries} times in ${window} s)` : `could not start (${tries} tries in ${window} s)`;
      const first = this.firstFailure && this.firstFailure !== reason ? `; first failure: ${this.firstFailure}` : "";
      this.deps.warn(
        `the persistence worker ${what}: ${reason}${first}. Recordings are now drained in the request thread${note}. ` +
          `To run the worker, ${fixHint(reason, this.options.journalDir)} and restart; to choose the in-process engine and not see this, pass worker: false.`,
      );
      this.settledStart();
      this.dispatch();
    })().catch((error) => {
      // Not even the in-process engine starts: nothing can drain, so requests fail instead of waiting.
      this.deps.warn(`the in-process engine could not start either (${(error as Error)?.message ?? error}); recordings are not saved`);
      this.settledStart();
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new Error(`hono-replay: ${p.request.type}: no engine could start`));
      }
    });
    return this.fallingBack;
  }

  /**
   * A worker about to read the journal and the ring: once its predecessor is
   * terminated and the bridge stopped, it may.
   */
  private async attach(life: Life): Promise<void> {
    life.attached = true;
    await this.terminating;
    if (life !== this.life || life.dead) return;
    this.stopBridge();
    life.handle?.postMessage({ type: "attached" } satisfies ToWorker);
  }

  /** Journals the ring in a dead worker's place until a replacement attaches (worker/bridge.ts). */
  private async startBridge(): Promise<void> {
    const dir = this.options.journalDir;
    if (!dir) return;
    this.journalPath ??= journalName(this.options.instanceId).then((name) => join(dir, name));
    const path = await this.journalPath;
    await this.terminating;
    if (this.bridge || this.closed || this.engine || this.fallingBack || this.life?.attached) return;
    let bridge: JournalBridge;
    try {
      bridge = new JournalBridge(this.buffer, path, this.options.maxHeldChars ?? DEFAULTS.overflowLimit, (m) => this.warn(m));
    } catch (error) {
      this.warn(`the crash journal ${path} cannot be opened while the persistence worker is replaced (${(error as Error)?.message ?? error}): frames wait in memory for the replacement (a crash meanwhile loses them)`);
      return;
    }
    this.bridge = bridge;
    const tick = () => {
      if (this.bridge !== bridge) return;
      bridge.tick();
      this.cancelBridgeTick = this.deps.timer(tick, BRIDGE_POLL_MS, false);
    };
    tick();
  }

  /** Stops the bridge after a last batch, before anything else reads the ring or the journal. */
  private stopBridge(): void {
    const bridge = this.bridge;
    if (!bridge) return;
    this.bridge = undefined;
    this.cancelBridgeTick?.();
    try {
      bridge.stop();
    } catch (error) {
      this.warn(`closing the crash journal ${bridge.path} failed: ${(error as Error)?.message ?? error}`);
    }
  }

  private async startInProcess(options: HostOptions): Promise<Engine> {
    const engine = new Engine(this.buffer, this.storage, this.engineOptions(options), (m) => this.warn(m), "poll");
    await engine.start();
    return engine;
  }

  /** Sends each request not yet sent to whatever drains now. */
  private dispatch(): void {
    if (this.engine) {
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        this.engine.handle(p.request).then(p.resolve, p.reject);
      }
      return;
    }
    const life = this.life;
    if (!life?.ready || !life.handle) {
      this.keepWorkerAlive();
      return;
    }
    for (const [id, p] of this.pending) {
      if (p.postedTo === life.generation) continue;
      p.postedTo = life.generation;
      life.handle.postMessage({ type: "request", id, request: p.request } satisfies ToWorker);
    }
    this.keepWorkerAlive();
  }

  private post(message: ToWorker): void {
    if (this.life?.ready) this.life.handle?.postMessage(message);
  }

  private settle(m: Extract<FromWorker, { type: "reply" }>) {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.keepWorkerAlive();
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  }

  /** The worker holds the process open only while an answer is awaited. */
  private keepWorkerAlive(): void {
    this.life?.handle?.keepAlive(this.pending.size > 0);
  }

  private watchHeartbeat(): void {
    const ring = new RingReader(this.buffer);
    const timeout = this.options.heartbeatTimeoutMs ?? HOST_DEFAULTS.heartbeatTimeoutMs;
    let last = ring.heartbeat();
    let changedAt = this.deps.now();
    let watched: Life | undefined;
    this.stopWatchdog = backgroundTimer(() => {
      const life = this.life;
      const beat = ring.heartbeat();
      // A starting worker has no heartbeat yet: workerStartTimeoutMs covers it.
      if (!life?.ready || life !== watched || beat !== last) {
        watched = life;
        last = beat;
        changedAt = this.deps.now();
      } else if (this.deps.now() - changedAt > timeout) {
        this.onDeath(life, `its heartbeat stopped for ${timeout} ms: stuck`);
      }
    }, Math.max(100, timeout / 5), true);
  }

  private engineOptions(options: HostOptions): EngineOptions {
    const { worker: _w, heartbeatTimeoutMs: _h, workerStartTimeoutMs: _s, restartLimit: _l, restartWindowMs: _rw, restartDelayMs: _rd, restartDelayMaxMs: _rm, shutdownTimeoutMs: _t, ...engine } = options;
    return engine;
  }

  private describe(): string {
    if (this.engine) return "in-process engine";
    if (this.fallingBack) return "falling back to the in-process engine";
    if (this.life?.ready) return `worker ${this.life.generation} running`;
    if (this.life) return `worker ${this.life.generation} starting`;
    return `worker restarting after ${this.deaths.length} death(s)`;
  }

  /** Prints a warning once; later ones that differ only in ids and numbers are counted. */
  private warn(message: string): void {
    const key = message.replace(/[\w.-]*\d[\w.-]*/g, "#");
    const seen = this.seenWarnings.get(key) ?? 0;
    this.seenWarnings.set(key, seen + 1);
    if (seen === 0) this.deps.warn(message);
    else this.suppressedWarnings++;
  }
}

/** What close() could not save, from the engine's last stats; undefined when everything was. */
function unsaved(stats: EngineStats | undefined, journalDir: string | undefined): string | undefined {
  const held = stats?.waitingForStorage ?? 0;
  if (held === 0) return undefined;
  const what = `${held} recording(s) could not be saved (the storage kept failing: see the warning above)`;
  if (stats?.journalFailure) {
    return `${what}, and the crash journal could not be written either (${stats.journalFailure}): their frames end with this process. Free space in ${journalDir} and in the storage`;
  }
  if (journalDir) return `${what}; their frames wait in the journal directory ${journalDir} for the next start to deliver`;
  return `${what}; without a journal directory their frames end with this process`;
}

/** What to change so that a worker can run, from what stopped it. */
function fixHint(reason: string, journalDir: string | undefined): string {
  const journal = journalDir ? ` and the journal directory ${journalDir}` : "";
  if (isDeno && /--allow-|NotCapable|PermissionDenied/.test(reason)) {
    return `grant Deno --allow-read for this package's files and --allow-read --allow-write for the storage${journal}`;
  }
  return `make sure the storage${journal} can be written (a directory, not a file; permissions; disk space)`;
}

function hasWorkers(): boolean {
  // Node always has worker_threads; Deno and browsers have Worker.
  return typeof Worker !== "undefined" || typeof (globalThis as { process?: unknown }).process !== "undefined";
}
