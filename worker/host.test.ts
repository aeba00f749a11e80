/**
 * EngineHost's restart policy with the worker and the clock faked (HostDeps):
 * how many tries and which delays before it falls back, that a worker that
 * crashes once and then runs is simply replaced, that deaths outside the
 * window do not add up, and that flush() and close() settle at
 * shutdownTimeoutMs against a worker that never answers, and that the ring
 * is journaled while a dead worker is replaced. No test sleeps:
 * timers fire when the test says so. (Real workers and processes:
 * worker/worker.test.ts, tests/worker_fallback.test.ts.)
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { frame, FrameKind } from "../format/mod.ts";
import { memoryStorage } from "../storage/memory.ts";
import type { RecordingStorage } from "../storage/mod.ts";
import { journalName } from "./journal_name.ts";
import type { FromWorker, ToWorker } from "./entry.ts";
import { EngineHost, type HostDeps, type HostOptions } from "./host.ts";
import { Journal } from "./journal.ts";
import { createRingBuffer, RingWriter } from "./ring.ts";
import type { WorkerEvents, WorkerHandle } from "./runtime.ts";

interface FakeTimer {
  fn: () => void;
  ms: number;
  keepAlive: boolean;
  done: boolean;
}

/** Lets promise callbacks and message handlers run: a turn of the event loop, not a timed wait. */
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

class Fakes {
  time = 1_000_000;
  timers: FakeTimer[] = [];
  warnings: string[] = [];
  workers: FakeWorker[] = [];
  /** How each new worker behaves once spawned. */
  behave: (worker: FakeWorker) => void = () => {};

  deps: HostDeps = {
    now: () => this.time,
    timer: (fn, ms, keepAlive) => {
      const t: FakeTimer = { fn, ms, keepAlive, done: false };
      this.timers.push(t);
      return () => void (t.done = true);
    },
    warn: (message) => this.warnings.push(message),
    spawn: async (_entry: URL, _init: unknown, events: WorkerEvents): Promise<WorkerHandle> => {
      const worker = new FakeWorker(events);
      this.workers.push(worker);
      queueMicrotask(() => this.behave(worker));
      return worker;
    },
  };

  /** Fires the first pending timer that matches, once one exists. */
  async fire(match: (t: FakeTimer) => boolean, what: string): Promise<FakeTimer> {
    for (let i = 0; i < 200; i++) {
      const t = this.timers.find((t) => !t.done && match(t));
      if (t) {
        t.done = true;
        t.fn();
        await turn();
        return t;
      }
      await turn();
    }
    throw new Error(`no timer for ${what}; pending: ${this.timers.filter((t) => !t.done).map((t) => t.ms)}`);
  }

  pendingKeepAlive(): FakeTimer[] {
    return this.timers.filter((t) => !t.done && t.keepAlive);
  }
}

class FakeWorker implements WorkerHandle {
  received: ToWorker[] = [];
  terminated = false;
  keptAlive = false;
  /** Replies to requests when set. */
  answers = true;
  constructor(readonly events: WorkerEvents) {}
  postMessage(message: unknown): void {
    const m = message as ToWorker;
    this.received.push(m);
    if (m.type === "request" && this.answers) {
      queueMicrotask(() => this.send({ type: "reply", id: m.id, value: { answeredBy: "worker", type: m.request.type } }));
    }
  }
  send(message: FromWorker) {
    this.events.onMessage(message);
  }
  async terminate() {
    this.terminated = true;
  }
  keepAlive(on: boolean) {
    this.keptAlive = on;
  }
}

/** Memory storage that claims it can be opened in a worker, so the host tries one. */
function specStorage(): RecordingStorage {
  return { ...memoryStorage(), spec: { module: "memory-for-tests", export: "none", options: {} } };
}

function options(more: Partial<HostOptions>): HostOptions {
  return {
    idleTimeoutMs: 60_000,
    persistenceRetryAttempts: 1,
    persistenceRetryDelayMs: 10,
    maxRecordings: 100,
    maxRecordingAgeMs: 86_400_000,
    cleanupIntervalMs: 3_600_000,
    instanceId: "hosttest",
    // The heartbeat watchdog runs on real time; the fake workers never beat.
    heartbeatTimeoutMs: 1e9,
    workerStartTimeoutMs: 60_000,
    shutdownTimeoutMs: 7_000,
    ...more,
  };
}

const isRestart = (max: number) => (t: FakeTimer) => !t.keepAlive && t.ms <= max;

test("a worker that cannot start is tried restartLimit times, waiting 100, 200, 250 ms, then runs in-process with one warning", async () => {
  const f = new Fakes();
  f.behave = (w) => w.send({ type: "failed", message: "EACCES: permission denied, mkdir '/srv/journal'" });
  const starting = EngineHost.start(createRingBuffer(64 * 1024), specStorage(), options({ restartLimit: 4, restartDelayMs: 100, restartDelayMaxMs: 250 }), f.deps);
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) delays.push((await f.fire(isRestart(250), `restart ${i + 1}`)).ms);
  const host = await starting;
  assert.equal(delays, [100, 200, 250], "doubling, capped");
  assert.is(f.workers.length, 4, "four tries");
  assert.ok(f.workers.every((w) => w.terminated), "every failed worker terminated");
  assert.is(host.mode, "in-process");
  assert.is(host.restarts, 3);
  const fallback = f.warnings.filter((w) => w.includes("could not start"));
  assert.is(fallback.length, 1, `one warning: ${f.warnings}`);
  assert.match(fallback[0], /4 tries/);
  assert.match(fallback[0], /EACCES/);
  assert.match(fallback[0], /worker: false/);
  assert.is(f.warnings.filter((w) => w.includes("died")).length, 0, "no warning per try");
  assert.is(f.timers.filter((t) => isRestart(250)(t) && !t.done).length, 0, "no restart left scheduled");

  const stats = await host.request<{ frames: number }>({ type: "flush" });
  assert.is(stats.frames, 0, "the in-process engine answers");
  const report = await host.close();
  assert.is(report.unfinished, undefined);
  assert.equal(f.pendingKeepAlive(), [], "nothing holds the process open after close");
});

test("a worker that is not ready within workerStartTimeoutMs counts as a failed start", async () => {
  const f = new Fakes(); // workers that never say anything
  const starting = EngineHost.start(createRingBuffer(64 * 1024), specStorage(), options({ restartLimit: 2, workerStartTimeoutMs: 30_000 }), f.deps);
  await f.fire((t) => t.ms === 30_000 && !t.keepAlive, "the first start timeout");
  await f.fire(isRestart(5_000), "the restart");
  await f.fire((t) => t.ms === 30_000 && !t.keepAlive, "the second start timeout");
  const host = await starting;
  assert.is(host.mode, "in-process");
  assert.match(f.warnings.find((w) => w.includes("could not start"))!, /not ready within 30000 ms/);
  await host.close();
});

test("a worker that crashes after it ran is replaced each time; deaths further apart than the window never add up", async () => {
  const f = new Fakes();
  f.behave = (w) => w.send({ type: "ready" });
  const host = await EngineHost.start(createRingBuffer(64 * 1024), specStorage(), options({ restartLimit: 2, restartWindowMs: 60_000 }), f.deps);
  assert.is(host.mode, "worker");
  for (let i = 1; i <= 3; i++) {
    f.workers.at(-1)!.events.onExit("error: simulated crash");
    const restart = await f.fire(isRestart(5_000), `restart ${i}`);
    assert.is(restart.ms, 100, "the first death in a window waits the first delay");
    await turn();
    assert.is(host.mode, "worker");
    f.time += 61_000;
  }
  assert.is(host.restarts, 3);
  assert.is(f.warnings.filter((w) => /died \(error: simulated crash\); starting a new one in 100 ms/.test(w)).length, 3);
  const value = await host.request<{ answeredBy: string }>({ type: "flush" });
  assert.is(value.answeredBy, "worker", "the replacement answers");
  // Two deaths inside the window: that is the limit here.
  f.workers.at(-1)!.events.onExit("exit code 1");
  await f.fire(isRestart(5_000), "restart");
  f.workers.at(-1)!.events.onExit("exit code 1");
  await turn();
  await turn();
  assert.is(host.mode, "in-process");
  assert.is(f.warnings.filter((w) => w.includes("kept dying")).length, 1);
  await host.close();
});

test("flush() and close() against a worker that never answers settle at shutdownTimeoutMs and say so", async () => {
  const f = new Fakes();
  f.behave = (w) => {
    w.answers = false;
    w.send({ type: "ready" });
  };
  const host = await EngineHost.start(createRingBuffer(64 * 1024), specStorage(), options({ shutdownTimeoutMs: 7_000 }), f.deps);
  const worker = f.workers[0];
  const flushing = host.request({ type: "flush" }).then(() => "resolved", (e: Error) => e.message);
  await turn();
  assert.ok(worker.keptAlive, "the worker holds the process open while an answer is awaited");
  await f.fire((t) => t.keepAlive && t.ms === 7_000, "the flush deadline");
  assert.match(await flushing, /flush got no answer within 7000 ms \(worker 1 running\)/);
  assert.not.ok(worker.keptAlive, "and only then");

  const closing = host.close();
  await f.fire((t) => t.keepAlive && t.ms === 7_000, "the close deadline");
  const report = await closing;
  assert.match(report.unfinished!, /close\(\) could not finish: .*shutdown got no answer within 7000 ms/);
  assert.ok(f.warnings.some((w) => w.startsWith("close() could not finish")), "and warns it");
  assert.ok(worker.terminated, "the worker is terminated anyway");
  assert.equal(f.pendingKeepAlive(), [], "nothing holds the process open after close");
  assert.is(await host.request({ type: "sendSegments" }), undefined, "after close, the answers of a closed replay");
});

test("the same warning from the engine is printed once and counted after that", async () => {
  const f = new Fakes();
  f.behave = (w) => w.send({ type: "ready" });
  const host = await EngineHost.start(createRingBuffer(64 * 1024), specStorage(), options({}), f.deps);
  for (const id of ["0mx60aaa-111", "0mx60bbb-222", "0mx60ccc-333"]) {
    f.workers[0].send({ type: "warn", message: `saving recording ${id} failed 3 times (EROFS: read-only file system, open '/srv/r/${id}.tmp'); keeping it for later` });
  }
  assert.is(f.warnings.length, 1);
  assert.is(host.suppressedWarnings, 2);
  await host.close();
  assert.ok(f.warnings.some((w) => w.startsWith("2 repeated warning(s)")), "close() says how many were not printed");
});

test("while a dead worker is replaced the ring goes into its journal, until the replacement asks for it", async () => {
  const f = new Fakes();
  f.behave = (w) => f.workers.length === 1 && w.send({ type: "ready" }); // the replacement is still loading
  const journalDir = mkdtempSync(join(tmpdir(), "hr-host-"));
  const buffer = createRingBuffer(64 * 1024);
  const host = await EngineHost.start(buffer, specStorage(), options({ journalDir }), f.deps);
  const path = join(journalDir, await journalName("hosttest"));
  const ring = new RingWriter(buffer);
  const frames = Array.from({ length: 4 }, (_, i) => frame("0rec", FrameKind.event, i, "type", `{"i":${i}}`));
  const tick = (t: FakeTimer) => !t.keepAlive && t.ms === 10;

  f.workers[0].events.onExit("error: simulated crash");
  ring.write(frames[0]);
  await f.fire(tick, "the bridge's first batch");
  assert.equal(Journal.read(path).frames, frames.slice(0, 1), "written while no worker reads the ring");
  await f.fire((t) => !t.keepAlive && t.ms === 100, "the restart");
  const replacement = f.workers[1];
  ring.write(frames[1]);
  await f.fire(tick, "a batch while the replacement loads");
  assert.equal(Journal.read(path).frames, frames.slice(0, 2));
  assert.is(ring.info().used, 0, "and committed");

  ring.write(frames[2]);
  replacement.send({ type: "attach" });
  await turn();
  assert.equal(replacement.received.map((m) => m.type), ["attached"], "the replacement may take the ring");
  assert.equal(Journal.read(path).frames, frames.slice(0, 3), "once the bridge wrote what was left");
  ring.write(frames[3]);
  assert.equal(f.timers.filter((t) => tick(t) && !t.done), [], "and stopped");
  assert.ok(ring.info().used > 0, "from here the replacement reads the ring");
  replacement.send({ type: "ready" });
  await host.close();
});

test.run();
