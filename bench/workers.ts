/** Starting the benchmark's own workers and the real persistence engine. */

import { join } from "node:path";
import { randomToken } from "../format/mod.ts";
import { fileStorage } from "../storage/mod.ts";
import { createRingBuffer, currentPid, EngineHost, EventLog } from "../worker/mod.ts";
import { spawnWorker, type WorkerHandle } from "../worker/runtime.ts";

export interface BenchWorker {
  post(message: unknown): void;
  /** The next message of this type (already received or still to come). */
  next<T = Record<string, unknown>>(type: string): Promise<T>;
  terminate(): Promise<void>;
}

export async function startBenchWorker(file: string, init: unknown): Promise<BenchWorker> {
  const inbox: { type: string }[] = [];
  const waiting: { type: string; resolve: (m: unknown) => void }[] = [];
  let handle!: WorkerHandle;
  const deliver = (message: unknown) => {
    const m = message as { type: string };
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(m);
    else inbox.push(m);
  };
  handle = await spawnWorker(new URL(file, import.meta.url), init, {
    onMessage: deliver,
    onExit: (reason) => {
      throw new Error(`bench worker ${file} died: ${reason}`);
    },
  });
  // Hold the process open while the benchmark talks to it.
  handle.keepAlive(true);
  const worker: BenchWorker = {
    post: (m) => handle.postMessage(m),
    next: <T>(type: string) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as T);
      return new Promise<T>((resolve) => waiting.push({ type, resolve: resolve as (m: unknown) => void }));
    },
    terminate: async () => {
      handle.keepAlive(false);
      await handle.terminate();
    },
  };
  await worker.next("ready");
  return worker;
}

export interface Engine {
  host: EngineHost;
  log: EventLog;
  buffer: SharedArrayBuffer;
  storage: ReturnType<typeof fileStorage>;
  close(): Promise<void>;
}

/** The real persistence worker (fileStorage, journal) on a ring the benchmark writes itself. */
export async function startEngine(dir: string, ringBytes = 4 * 1024 * 1024): Promise<Engine> {
  const storage = fileStorage({ path: dir });
  const buffer = createRingBuffer(ringBytes);
  const log = new EventLog(buffer);
  const host = await EngineHost.start(buffer, storage, {
    worker: true,
    idleTimeoutMs: 60 * 60_000,
    persistenceRetryAttempts: 3,
    persistenceRetryDelayMs: 1_000,
    maxRecordings: 1_000_000,
    maxRecordingAgeMs: 7 * 24 * 3_600_000,
    cleanupIntervalMs: 3_600_000,
    journalDir: join(dir, ".journal"),
    instanceId: randomToken(12),
  });
  // The first request waits until the worker runs.
  await host.request({ type: "stats" });
  return {
    host,
    log,
    buffer,
    storage,
    close: async () => {
      await log.drainOverflow();
      await host.close();
    },
  };
}
