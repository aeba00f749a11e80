/**
 * The persistence worker's entry point: opens the storage from its spec and runs the engine.
 *
 * A start that fails (the storage module cannot be loaded, the journal cannot
 * be written) is reported to the host as one `failed` message and the worker
 * then waits to be terminated: the host decides whether to try again or to run
 * the engine in-process, and says so once. Throwing instead would print an
 * uncaught error per attempt and tell the host only "it died".
 *
 * The engine takes the ring only once the host says it may (`attach`, then
 * `attached`): after a worker died, the host journals the ring in its place
 * while this one loads (worker/bridge.ts), and the ring has one drainer at a time.
 *
 * A function cannot be posted to a worker, so the app's `Logger` stays in the
 * request thread: the engine here logs through one that posts each warning
 * and error to the host (`warn` / `error` messages), which hands them to it.
 */

import type { Logger } from "../logger.ts";
import type { RecordingStorage, StorageSpec } from "../storage/mod.ts";
import { Engine } from "./engine.ts";
import type { EngineOptions, EngineRequest } from "./engine_types.ts";
import { parentPort } from "./runtime.ts";

export interface WorkerInit {
  type: "init";
  buffer: SharedArrayBuffer;
  storage: StorageSpec;
  options: EngineOptions;
}

export type ToWorker =
  | WorkerInit
  | { type: "request"; id: number; request: EngineRequest }
  /** The answer to `attach`: the engine may read the journal and the ring now. */
  | { type: "attached" }
  | { type: "crash" }
  | { type: "hang"; ms: number }
  | { type: "gc" };
export type FromWorker =
  /** Loaded, and asking for the ring. */
  | { type: "attach" }
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "reply"; id: number; value?: unknown; error?: string }
  | { type: "warn"; message: string }
  /** An error logged in the worker: `error` is the error's stack or message (an Error cannot always be posted). */
  | { type: "error"; message: string; error?: string };

const port = await parentPort();
let engine: Promise<Engine> | undefined;
let storage: RecordingStorage | undefined;
let attached: (() => void) | undefined;

/** The engine's logger in the worker: every message goes to the host, which logs it with the app's `Logger`. */
const postingLogger: Logger = {
  warn: (message) => port.postMessage({ type: "warn", message } satisfies FromWorker),
  error: (message, error) =>
    port.postMessage({ type: "error", message, error: error === undefined ? undefined : String((error as Error)?.stack ?? error) } satisfies FromWorker),
};

port.onMessage((message) => {
  const m = message as ToWorker;
  if (m.type === "init") {
    engine = start(m);
    engine.then(
      () => port.postMessage({ type: "ready" } satisfies FromWorker),
      (error) => port.postMessage({ type: "failed", message: String(error?.message ?? error) } satisfies FromWorker),
    );
  } else if (m.type === "attached") {
    attached?.();
  } else if (m.type === "request") {
    void answer(m.id, m.request);
  } else if (m.type === "hang") {
    // Used by the tests: a worker stuck in synchronous code stops its heartbeat.
    const until = Date.now() + m.ms;
    while (Date.now() < until);
  } else if (m.type === "gc") {
    // Used by the memory tests (run with --expose-gc, which worker threads share): the worker's garbage is collected too.
    (globalThis as { gc?: () => void }).gc?.();
  } else if (m.type === "crash") {
    // Used by the tests to kill the worker the way a bug would: an uncaught error.
    setTimeout(() => {
      throw new Error("hono-replay: simulated worker crash");
    });
  }
});

async function start(init: WorkerInit): Promise<Engine> {
  const module = await import(init.storage.module);
  storage = module[init.storage.export](init.storage.options) as RecordingStorage;
  // Loading took a while; the engine reads the ring from where it is when the host lets go of it.
  await new Promise<void>((resolve) => {
    attached = resolve;
    port.postMessage({ type: "attach" } satisfies FromWorker);
  });
  const created = new Engine(init.buffer, storage, init.options, postingLogger, "atomics");
  await created.start();
  return created;
}

async function answer(id: number, request: EngineRequest) {
  try {
    const value = await (await engine!).handle(request);
    // The worker's own storage handle (a database pool) closes with it, not by being cut off.
    if (request.type === "shutdown") await storage?.close?.();
    port.postMessage({ type: "reply", id, value } satisfies FromWorker);
  } catch (error) {
    port.postMessage({ type: "reply", id, error: (error as Error)?.message ?? String(error) } satisfies FromWorker);
  }
}
