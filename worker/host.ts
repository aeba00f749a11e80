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
 * - Warnings and errors go to the `logger` option, the worker's included: a
 *   function cannot be posted to a worker, so the worker posts them here
 *   (worker/entry.ts). How often each is logged: worker/host_messages.ts.
 *
 * The parts: options and injectable dependencies (host_options.ts), messages
 * (host_messages.ts), the watchdog (heartbeat.ts), journaling the ring while a
 * worker is replaced (host_bridge.ts).
 */

import { DEFAULTS, HOST_DEFAULTS } from "../defaults.ts";
import type { RecordingStorage } from "../storage/mod.ts";
import { Engine } from "./engine.ts";
import type { EngineRequest, EngineStats } from "./engine_types.ts";
import type { FromWorker, ToWorker } from "./entry.ts";
import { watchHeartbeat } from "./heartbeat.ts";
import { canWaitAsync } from "./ring.ts";
import type { WorkerHandle } from "./runtime.ts";
import { BridgeShift } from "./host_bridge.ts";
import { fallbackWarning, RepeatedWarnings, unsaved } from "./host_messages.ts";
import { type CloseReport, engineOptionsOf, hasWorkers, type HostDeps, hostDeps, type HostOptions, type Life, type Pending, requestTimeoutMs, RestartWindow, startBound, terminateWithin } from "./host_options.ts";

export type { CloseReport, HostDeps, HostOptions } from "./host_options.ts";

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
  private readonly deaths: RestartWindow;
  /** Resolves once the first worker is ready or the host fell back: what start() waits for. */
  private settledStart!: () => void;
  private readonly started = new Promise<void>((resolve) => (this.settledStart = resolve));
  private fallingBack?: Promise<void>;
  /** Worker terminations in progress: the next drainer waits for them. */
  private terminating: Promise<void> = Promise.resolve();
  private readonly warnings: RepeatedWarnings;
  /** This thread journaling the ring while a dead worker is replaced. */
  private readonly bridge: BridgeShift;
  /** How many times a dead worker was replaced. */
  restarts = 0;
  /** Why the host gave up on workers, once it has. */
  fallbackReason?: string;

  private constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly storage: RecordingStorage,
    private readonly options: HostOptions,
    private readonly deps: HostDeps,
  ) {
    this.warnings = new RepeatedWarnings((m) => deps.warn(m));
    this.deaths = new RestartWindow(options, deps.now);
    this.bridge = new BridgeShift({
      buffer,
      journalDir: options.journalDir,
      instanceId: options.instanceId,
      maxHeldChars: options.maxHeldChars ?? DEFAULTS.overflowLimit,
      timer: deps.timer,
      warn: (m) => this.warn(m),
      terminating: () => this.terminating,
      wanted: () => !(this.closed || this.engine || this.fallingBack || this.life?.attached),
    });
  }

  /** Warnings not logged because the same one was logged before. */
  get suppressedWarnings(): number {
    return this.warnings.suppressed;
  }

  /** Resolves once a worker is ready or the engine runs in-process. */
  static async start(buffer: SharedArrayBuffer, storage: RecordingStorage, options: HostOptions, deps: Partial<HostDeps> = {}): Promise<EngineHost> {
    const host = new EngineHost(buffer, storage, options, hostDeps(options, deps));
    const canUseWorker = options.worker !== false && storage.spec !== undefined && hasWorkers();
    if (canUseWorker) {
      const timeout = options.heartbeatTimeoutMs ?? HOST_DEFAULTS.heartbeatTimeoutMs;
      host.stopWatchdog = watchHeartbeat(buffer, timeout, host.deps.now, () => host.life, (life) => host.onDeath(life, `its heartbeat stopped for ${timeout} ms: stuck`));
      // Holds the process open while it starts (the worker itself does not), and bounds the start.
      const bound = startBound(options);
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

  request<T>(request: EngineRequest): Promise<T> {
    // After close nothing is active (nothing to send, nothing to erase here), and no worker is left to ask.
    if (this.closed) {
      if (request.type === "sendSegments" || request.type === "erase") return Promise.resolve(undefined as T);
      return Promise.reject(new Error(`hono-replay: ${request.type} after close()`));
    }
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const ms = requestTimeoutMs(this.options);
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
    this.bridge.stop();
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
    const init: ToWorker = { type: "init", buffer: this.buffer, storage: this.storage.spec!, options: engineOptionsOf(this.options) };
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
    } else if (m.type === "error") {
      this.logError(m.message, m.error);
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
    const delay = this.deaths.died(reason);
    if (delay === undefined) return void this.fallBack(reason, life.ready);
    // A worker that never started is retried quietly: the fallback warning, if it comes to that, says why.
    if (life.ready) this.deps.warn(`persistence worker died (${reason}); starting a new one in ${delay} ms`);
    void this.bridge.start();
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
    const gone = terminateWithin(handle, ms, this.deps, (m) => this.warn(m));
    this.terminating = Promise.all([this.terminating, gone]).then(() => {});
  }

  /** Gives up on workers: the same engine runs in this thread from now on. */
  private fallBack(reason: string, wasReady: boolean): Promise<void> {
    this.fallingBack ??= (async () => {
      this.stopWatchdog?.();
      this.cancelRestart?.();
      const life = this.life;
      this.life = undefined;
      if (life) (life.dead = true), this.terminate(life);
      const windowS = this.deaths.seconds();
      const tries = this.deaths.count;
      await this.terminating;
      this.bridge.stop();
      let note = "";
      try {
        this.engine = await this.startInProcess(this.options);
      } catch (error) {
        // The journal directory cannot be used here either: drain without one.
        note = `, without a crash journal (${(error as Error)?.message ?? error}), so a crash of this process loses its active recordings`;
        this.engine = await this.startInProcess({ ...this.options, journalDir: undefined });
      }
      this.fallbackReason = reason;
      this.deps.warn(fallbackWarning({ reason, wasReady, tries, windowS, firstFailure: this.deaths.firstFailure, note, journalDir: this.options.journalDir }));
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
    this.bridge.stop();
    life.handle?.postMessage({ type: "attached" } satisfies ToWorker);
  }

  private async startInProcess(options: HostOptions): Promise<Engine> {
    // The engine's warnings pass through the same filter as a worker's. It sleeps on the ring as a worker does, where it can.
    const logger = { warn: (m: string) => this.warn(m), error: (m: string, e: unknown) => this.logError(m, e) };
    const engine = new Engine(this.buffer, this.storage, engineOptionsOf(options), logger, canWaitAsync() ? "atomics" : "poll");
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

  private describe(): string {
    if (this.engine) return "in-process engine";
    if (this.fallingBack) return "falling back to the in-process engine";
    if (this.life?.ready) return `worker ${this.life.generation} running`;
    if (this.life) return `worker ${this.life.generation} starting`;
    return `worker restarting after ${this.deaths.count} death(s)`;
  }

  /** Logs a warning once; later ones that differ only in ids and numbers are counted (host_messages.ts). */
  private warn(message: string): void {
    this.warnings.report(message);
  }

  private logError(message: string, error: unknown): void {
    const text = error === undefined ? undefined : String((error as Error)?.stack ?? error);
    if (this.deps.error) this.deps.error(message, text);
    else this.deps.warn(text === undefined ? message : `${message}: ${text}`);
  }
}
