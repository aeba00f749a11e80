/**
 * The request thread's handle on the drain engine: a persistence worker when one
 * can be started and the storage can be opened inside it, the same engine
 * in-process otherwise. A worker that dies (an uncaught error, a hang that stops
 * its heartbeat) is replaced by one that attaches to the same ring and journal.
 */

import type { RecordingStorage } from "../storage/mod.ts";
import { Engine, type EngineOptions, type EngineRequest } from "./engine.ts";
import type { FromWorker, ToWorker } from "./entry.ts";
import { backgroundTimer, spawnWorker, type WorkerHandle } from "./runtime.ts";
import { RingReader } from "./ring.ts";

export interface HostOptions extends EngineOptions {
  /** false runs the engine in the request thread. Default true. */
  worker?: boolean;
  /** A worker whose heartbeat stops this long is replaced. Default 5000. */
  heartbeatTimeoutMs?: number;
}

interface Pending {
  request: EngineRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class EngineHost {
  private worker?: WorkerHandle;
  private engine?: Engine;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  private closed = false;
  private stopWatchdog?: () => void;
  private ready?: Promise<void>;
  /** How many times a dead worker was replaced. */
  restarts = 0;

  private constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly storage: RecordingStorage,
    private readonly options: HostOptions,
  ) {}

  static async start(buffer: SharedArrayBuffer, storage: RecordingStorage, options: HostOptions): Promise<EngineHost> {
    const host = new EngineHost(buffer, storage, options);
    const canUseWorker = options.worker !== false && storage.spec !== undefined && hasWorkers();
    if (canUseWorker) {
      await host.spawn();
      host.watchHeartbeat();
    } else {
      host.engine = new Engine(buffer, storage, options, undefined, "poll");
      await host.engine.start();
    }
    return host;
  }

  get mode(): "worker" | "in-process" {
    return this.engine ? "in-process" : "worker";
  }

  request<T>(request: EngineRequest): Promise<T> {
    // After close nothing is active, and no worker is left to ask.
    if (this.closed) {
      if (request.type === "sendSegments") return Promise.resolve(undefined as T);
      return Promise.reject(new Error(`hono-replay: ${request.type} after close()`));
    }
    if (this.engine) return this.engine.handle(request) as Promise<T>;
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { request, resolve: resolve as (v: unknown) => void, reject });
      this.worker?.keepAlive(true);
      void this.ready!.then(() => this.worker?.postMessage({ type: "request", id, request } satisfies ToWorker));
    });
  }

  /** For tests: makes the worker die of an uncaught error, as a bug would. */
  crashWorker(): void {
    this.worker?.postMessage({ type: "crash" } satisfies ToWorker);
  }

  /** For tests: blocks the worker's thread for `ms`, as an endless loop in a bug would. */
  hangWorker(ms: number): void {
    this.worker?.postMessage({ type: "hang", ms } satisfies ToWorker);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    const result = this.request({ type: "shutdown" });
    this.closing = true;
    this.stopWatchdog?.();
    await result;
    this.closed = true;
    await this.worker?.terminate();
    // Whatever was still asked of the worker gets the answer a closed replay gives.
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.request(p.request).then(p.resolve, p.reject);
    }
  }

  private async spawn(): Promise<void> {
    const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const entry = new URL(`./entry${ext}`, import.meta.url);
    let markReady!: () => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    const init: ToWorker = { type: "init", buffer: this.buffer, storage: this.storage.spec!, options: this.options };
    const worker = await spawnWorker(entry, init, {
      onMessage: (message) => {
        const m = message as FromWorker;
        if (m.type === "ready") markReady();
        else if (m.type === "warn") console.warn(`hono-replay: ${m.message}`);
        else if (m.type === "reply") this.settle(m);
      },
      onExit: (reason) => {
        if (this.worker !== worker) return;
        console.warn(`hono-replay: persistence worker died (${reason}); starting a new one`);
        void this.replace();
      },
    });
    this.worker = worker;
    if (this.pending.size) worker.keepAlive(true);
    // Requests sent to a worker that died are asked again of its replacement.
    for (const [id, p] of this.pending) {
      void this.ready.then(() => worker.postMessage({ type: "request", id, request: p.request } satisfies ToWorker));
    }
  }

  private async replace(): Promise<void> {
    if (this.closing) return;
    const old = this.worker;
    this.worker = undefined;
    await old?.terminate().catch(() => {});
    this.restarts++;
    await this.spawn();
  }

  private settle(m: Extract<FromWorker, { type: "reply" }>) {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker?.keepAlive(false);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  }

  private watchHeartbeat(): void {
    const ring = new RingReader(this.buffer);
    const timeout = this.options.heartbeatTimeoutMs ?? 5000;
    let last = ring.heartbeat();
    let changedAt = Date.now();
    this.stopWatchdog = backgroundTimer(() => {
      const beat = ring.heartbeat();
      if (beat !== last) {
        last = beat;
        changedAt = Date.now();
      } else if (Date.now() - changedAt > timeout && this.worker) {
        changedAt = Date.now();
        console.warn("hono-replay: persistence worker stopped responding; starting a new one");
        void this.replace();
      }
    }, Math.max(100, timeout / 5), true);
  }
}

function hasWorkers(): boolean {
  // Node always has worker_threads; Deno and browsers have Worker.
  return typeof Worker !== "undefined" || typeof (globalThis as { process?: unknown }).process !== "undefined";
}
