/**
 * The apps the request benchmarks compare, built by name (server.ts serves one
 * over HTTP, in_process_child.ts calls one's `fetch` directly), and the
 * process's CPU time by kind of thread.
 *
 *   recorder <dir> [options]   the demo app, recording into fileStorage(<dir>);
 *                              options: JSON of createReplay options (diagnostic variants)
 *   attached <dir> [options]   those routes (plain_app.tsx), unchanged, under
 *                              app.use(replay.recorder()): recorded by attaching
 *   plain                      the same routes without hono-replay
 *   cookieReader               those routes under a middleware that only reads a
 *                              cookie and awaits next(): what any session
 *                              middleware costs, the floor under the recorder's
 *                              rows for sampled-out sessions and routes without a view
 */

import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { createDemoApp } from "../examples/demo/app.tsx";
import { SignupForm } from "../examples/demo/views.tsx";
import { createReplay } from "../mod.ts";
import { fileStorage } from "../storage/mod.ts";
import { isDeno } from "../worker/mod.ts";
import { getCookie } from "hono/cookie";
import { createPlainApp } from "./plain_app.tsx";

export interface VariantApp {
  fetch: (request: Request) => Response | Promise<Response>;
  /** Waits until everything recorded so far is drained and persisted. */
  flush: () => Promise<void>;
  close: () => Promise<void>;
}

// The main thread and V8's platform threads (garbage collection, compilation): on Node, those that
// existed before any ES module was loaded (platform_threads.cjs). Loading modules starts libuv's
// thread pool, which does the persistence worker's file work: taken for platform threads, its CPU
// was counted as garbage collection. Elsewhere, those that exist before any app is built.
const platformThreads = new Set((globalThis as { __honoReplayBenchStartThreads?: string[] }).__honoReplayBenchStartThreads ?? threadIds());

export async function variantApp(variant: string, dir: string | undefined, extra: string | undefined): Promise<VariantApp> {
  const options = extra ? JSON.parse(extra) : {};
  if (variant === "recorder") {
    const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir! }), ...options });
    await replay.ready;
    return {
      fetch: app.fetch,
      flush: async () => void (await replay.flush()),
      close: async () => {
        const started = performance.now();
        await replay.close();
        console.log(JSON.stringify({ closedMs: performance.now() - started, dropped: replay.engine.dropped, errors: replay.engine.recorderErrors }));
      },
    };
  }
  if (variant === "attached") {
    const replay = createReplay({ storage: fileStorage({ path: dir! }), views: { SignupForm }, ...options });
    await replay.ready;
    return { fetch: createPlainApp((app) => app.use(replay.recorder())).fetch, flush: async () => void (await replay.flush()), close: async () => void (await replay.close()) };
  }
  if (variant === "plain") return { fetch: createPlainApp().fetch, flush: async () => {}, close: async () => {} };
  if (variant === "cookieReader") {
    const app = createPlainApp((app) =>
      app.use(async (c, next) => {
        c.set("session" as never, getCookie(c, "hono_replay") as never);
        await next();
      })
    );
    return { fetch: app.fetch, flush: async () => {}, close: async () => {} };
  }
  throw new Error(`unknown variant ${variant}`);
}

export type ThreadCpu = Record<"main" | "gcAndPlatform" | "workerAndIo", number>;

/**
 * CPU µs so far by kind of thread (Linux, from each thread's schedstat): the
 * request thread, V8's platform threads (garbage collection mostly), and the
 * threads started since (the persistence worker and libuv's I/O pool, which
 * does its file work).
 */
export function threadCpu(): ThreadCpu | undefined {
  const out = { main: 0, gcAndPlatform: 0, workerAndIo: 0 };
  const ids = threadIds();
  if (ids.length === 0) return undefined;
  for (const tid of ids) {
    let ns = 0;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const kind = tid === String(process.pid) ? "main" : platformThreads.has(tid) ? "gcAndPlatform" : "workerAndIo";
    out[kind] += ns / 1000;
  }
  return out;
}

/** Linux: the process's thread ids; elsewhere none (the breakdown is then left out). */
function threadIds(): string[] {
  try {
    return readdirSync("/proc/self/task");
  } catch {
    return [];
  }
}

/** Garbage collections so far, counted by a PerformanceObserver (Node; undefined where the runtime reports none). */
export interface GcCounts {
  minor: number;
  major: number;
  /** Pause time of all of them, ms (the collector's work on other threads is in `threadCpu`). */
  pauseMs: number;
}

/** Starts counting collections; read the returned function for the counts so far. */
export async function countGc(): Promise<() => GcCounts | undefined> {
  const counts: GcCounts = { minor: 0, major: 0, pauseMs: 0 };
  if (isDeno) return () => undefined; // Deno reports no gc entries: the rows say so by their absence
  try {
    const { PerformanceObserver, constants } = await import("node:perf_hooks");
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
        else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
        counts.pauseMs += entry.duration;
      }
    });
    observer.observe({ entryTypes: ["gc"] });
  } catch (error) {
    console.error(`garbage collections are not counted here: ${(error as Error)?.message ?? error}`);
    return () => undefined;
  }
  return () => ({ ...counts });
}
