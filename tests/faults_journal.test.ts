/**
 * Which journals a starting (or running) engine recovers. A journal is named
 * `<pid namespace>-<pid>-<instance>.journal`; its owner touches it every
 * second. One left by a process that is gone is recovered — also when its pid
 * is alive again as some other process (a container restarts its server as the
 * same pid), which shows as a journal nobody touched for a while. A journal a
 * live engine keeps touching is left alone, also one from another PID
 * namespace whose pid means nothing here (another container on the same
 * volume), and two engines that start at once on the same orphan recover it
 * once. What a journal held goes to the store as a segment marked recovered,
 * readable at once and finalized once idle.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createReplay, memoryStorage, type RecordingStorage } from "../mod.ts";
import { encode, frame, FrameKind, payload } from "../format/mod.ts";
import { FixtureView } from "../storage/conformance.ts";
import { waitFor } from "./support/wait.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-journals-"));
  dirs.push(dir);
  return dir;
};
test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A journal as an engine writes it: one recording, a mount and `clicks` clicks with their renders, not ended. */
function writeJournal(dir: string, name: string, id: string, clicks: number, ageMs: number): string {
  const meta = { view: "Counter", url: "http://localhost/counter", sessionKey: "k", startedAt: Date.UTC(2026, 0, 9), format: "tagged" };
  const lines = [
    frame(id, FrameKind.start, 0, "", JSON.stringify(meta)),
    frame(id, FrameKind.mount, 0, "", payload.mount(meta.url, "{}", "{}", encode({ label: "n", count: 0 }))),
  ];
  for (let i = 1; i <= clicks; i++) {
    lines.push(frame(id, FrameKind.event, i * 100, "click", payload.event(encode({ i }))));
    lines.push(frame(id, FrameKind.render, i * 100 + 1, "", payload.render(encode({ count: i }), [])));
  }
  const path = join(dir, name);
  // Owner-only, as the engine writes them: anything else is not delivered (worker/private_dir.ts).
  writeFileSync(path, lines.join("\n") + "\n", { mode: 0o600 });
  const then = new Date(Date.now() - ageMs);
  utimesSync(path, then, then);
  return path;
}

const options = (journal: string, storage: RecordingStorage) => ({
  views: { Counter: FixtureView },
  storage,
  journal,
  persistenceRetryDelayMs: 200,
  // The recovered recordings are long idle: the store sweep (every idle/4) finalizes them.
  idleTimeoutMs: 500,
});

/** This process's PID namespace, as journal names carry it. */
const namespace = /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))![1];

const until = (condition: () => Promise<boolean>, what: string) => waitFor(condition, what, 30_000, 50);

test("a journal of a live pid is recovered once nobody has touched it for a while (the pid was reused)", async () => {
  const dir = tempDir();
  // Our own pid stands for "a pid that is alive": the journal's writer is not this process's engine.
  const stale = writeJournal(dir, `${namespace}-${process.pid}-oldincarnation.journal`, "0rec-stale", 3, 5 * 60_000);
  const fresh = writeJournal(dir, `${namespace}-${process.pid}-livesibling.journal`, "0rec-fresh", 2, 0);
  const storage = memoryStorage();
  const replay = createReplay(options(dir, storage));
  try {
    await replay.ready;
    assert.equal((await storage.listSegments()).map((s) => s.recordingId), ["0rec-stale"], "the untouched journal is recovered at start");
    const recording = await replay.store.getRecording("0rec-stale");
    assert.is(recording.recovered, true);
    assert.is(recording.events.length, 7);
    assert.is(replay.player(recording).renderFrame(3).html, "<p>n 3</p>");
    assert.not.ok(existsSync(stale), "and removed");
    await until(async () => (await storage.list()).items.length === 1, "the idle recording to be finalized");
    assert.is((await storage.list()).items[0].recovered, true);
    assert.ok(existsSync(fresh), "a journal touched just now belongs to a live engine: left alone");
    assert.is((await storage.list()).items.length, 1);

    // Its owner stops touching it (it died, and the pid lives on): the running engine's periodic scan takes it.
    const then = new Date(Date.now() - 5 * 60_000);
    utimesSync(fresh, then, then);
    await until(async () => (await storage.list()).items.length === 2, "the periodic scan to recover it");
    assert.equal((await storage.list()).items.map((s) => s.id).sort(), ["0rec-fresh", "0rec-stale"]);
    assert.not.ok(existsSync(fresh));
  } finally {
    await replay.close();
  }
});

test("two engines starting at once on the same orphan recover it once", async () => {
  const dir = tempDir();
  // pid 2^22 + 1 is above Linux's pid_max: no such process.
  writeJournal(dir, `${namespace}-${2 ** 22 + 1}-dead.journal`, "0rec-orphan", 4, 0);
  const a = memoryStorage();
  const b = memoryStorage();
  const first = createReplay(options(dir, a));
  const second = createReplay(options(dir, b));
  try {
    await Promise.all([first.ready, second.ready]);
    const ids = [...(await a.listSegments()), ...(await b.listSegments())].map((s) => s.recordingId);
    assert.equal(ids, ["0rec-orphan"], "recovered by exactly one of them");
    assert.equal(readdirSync(dir).filter((n) => n.includes("dead") || n.includes("recovering")), []);
  } finally {
    await first.close();
    await second.close();
  }
});

test("a journal from another PID namespace is left alone while its owner touches it, whatever its pid", async () => {
  const dir = tempDir();
  // Another container on the same volume: its pid (here, a dead one in ours) says nothing about it.
  const other = writeJournal(dir, `${Number(namespace) + 1}-${2 ** 22 + 1}-othercontainer.journal`, "0rec-other", 2, 0);
  const storage = memoryStorage();
  const replay = createReplay(options(dir, storage));
  try {
    await replay.ready;
    assert.equal(await storage.listSegments(), [], "not recovered");
    assert.ok(existsSync(other), "left in place");
    // Its owner stops touching it: gone, wherever it lived.
    const then = new Date(Date.now() - 5 * 60_000);
    utimesSync(other, then, then);
    await until(async () => (await storage.list()).items.length === 1, "the untouched journal to be recovered");
    assert.not.ok(existsSync(other));
  } finally {
    await replay.close();
  }
});

test.run();
