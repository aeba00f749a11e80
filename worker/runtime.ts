/**
 * The one place where Deno and Node differ for us: how a worker is started,
 * how it talks to its parent, and how a timer is kept from holding a process
 * open. Everything else uses web APIs or node: built-ins that Deno also has.
 */

// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno as { pid: number } | undefined;
export const isDeno = deno !== undefined;

export interface WorkerHandle {
  postMessage(message: unknown): void;
  terminate(): Promise<void>;
  /** Whether the worker keeps the process alive: only while the parent awaits an answer. */
  keepAlive(on: boolean): void;
}

export interface WorkerEvents {
  onMessage(message: unknown): void;
  /** The worker is gone without being asked to go. */
  onExit(reason: string): void;
}

/** The persistence worker's young generation (Node), MiB. */
const WORKER_YOUNG_GENERATION_MB = 4;

/** Starts `entry` as a module worker and hands it `init` as its first message. */
export async function spawnWorker(entry: URL, init: unknown, events: WorkerEvents): Promise<WorkerHandle> {
  if (isDeno) {
    const worker = new Worker(entry.href, { type: "module" });
    let closed = false;
    worker.onmessage = (e: MessageEvent) => events.onMessage(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      if (!closed) events.onExit(`error: ${e.message}`);
    };
    worker.postMessage(init);
    return {
      postMessage: (m) => worker.postMessage(m),
      terminate: async () => {
        closed = true;
        worker.terminate();
      },
      keepAlive: () => {},
    };
  }
  const { Worker: NodeWorker } = await import("node:worker_threads");
  // Under tsx (tests, the demo) the worker must register the TypeScript loader
  // itself: Node 20 does not pass --import hooks on to worker threads.
  const source = entry.pathname.endsWith(".ts")
    ? `import("tsx/esm/api").then((m) => m.register()).then(() => import(${JSON.stringify(entry.href)}))`
    : `import(${JSON.stringify(entry.href)})`;
  // A small young generation: the worker's live data is a segment per active
  // recording, so short scavenges suffice, and V8's default lets each isolate
  // grow it to 32 MiB of resident memory under a flood of frames (measured: a
  // 30,000-visitor flood grew the process by 47 MiB with 4, by 72 MiB without).
  const worker = new NodeWorker(source, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
  let closed = false;
  worker.on("message", (m) => events.onMessage(m));
  worker.on("error", (e) => !closed && events.onExit(`error: ${e.message}`));
  worker.on("exit", (code) => !closed && events.onExit(`exit code ${code}`));
  worker.unref();
  worker.postMessage(init);
  return {
    postMessage: (m) => worker.postMessage(m),
    terminate: async () => {
      closed = true;
      await worker.terminate();
    },
    keepAlive: (on) => (on ? worker.ref() : worker.unref()),
  };
}

export interface ParentPort {
  onMessage(handler: (message: unknown) => void): void;
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
}

/** Inside a worker: the channel to the thread that started it. */
export async function parentPort(): Promise<ParentPort> {
  if (isDeno) {
    // deno-lint-ignore no-explicit-any
    const scope = globalThis as any;
    return {
      onMessage: (handler) => (scope.onmessage = (e: MessageEvent) => handler(e.data)),
      postMessage: (m, transfer) => scope.postMessage(m, transfer ?? []),
    };
  }
  const { parentPort: port } = await import("node:worker_threads");
  if (!port) throw new Error("hono-replay: worker entry loaded outside a worker");
  return {
    onMessage: (handler) => port.on("message", handler),
    postMessage: (m, transfer) => port.postMessage(m, transfer ?? []),
  };
}

/** Lets queued messages and I/O callbacks run between busy drain batches. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A timer that does not keep the process alive. */
export function backgroundTimer(fn: () => void, ms: number, repeat = false): () => void {
  const id = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
  if (isDeno) {
    // deno-lint-ignore no-explicit-any
    (globalThis as any).Deno.unrefTimer?.(id);
  } else {
    (id as unknown as { unref(): void }).unref();
  }
  return () => (repeat ? clearInterval(id) : clearTimeout(id));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a process with this id is running on this machine. */
export async function processAlive(pid: number): Promise<boolean> {
  const { default: process } = await import("node:process");
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

export async function currentPid(): Promise<number> {
  const { default: process } = await import("node:process");
  return process.pid;
}
