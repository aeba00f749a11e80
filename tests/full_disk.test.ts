/**
 * A full disk, for real: a server process records into file storage whose
 * recordings and crash journal are on a 2 MB tmpfs the test mounts, and the
 * test fills it to the last byte (ENOSPC, the positive control) while
 * visitors use the app. Requests keep answering 200; the persistence worker
 * is never restarted (a journal write that throws used to kill it, and each
 * replacement died on the same write, until the host gave up on workers and
 * the in-process engine took the whole server down); frames wait in bounded
 * memory (the ring is small here), then are dropped and counted; the journal
 * empties itself instead of holding the disk. Once space is freed every
 * recording reaches the store by itself, and nothing is left behind: no
 * temporary file, no compaction. A shutdown while the disk is full says what
 * could not be saved and exits non-zero. Stale temporary files that a process
 * killed mid-write leaves are removed by the next start's maintenance.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { closeSync, mkdirSync, openSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { fileStorage } from "../mod.ts";
import type { EngineStats } from "../mod.ts";
import { startServer, until, Visitor } from "./faults_support.ts";
import { testUnless } from "./support/skip.ts";
import { mountTmpfs, type Tmpfs, tmpfsUnavailable } from "./support/tmpfs.ts";

const diskTest = testUnless(tmpfsUnavailable(), "the full-disk tests (they mount a tmpfs)");

/** Small enough that a few visitors overflow them while the store refuses everything. */
const OVERFLOW_LIMIT = 32 * 1024;
const RING_BYTES = 32 * 1024;

function start(disk: Tmpfs) {
  return startServer("tests/faults_server.ts", {
    REPLAY_DIR: join(disk.dir, "store"),
    JOURNAL_DIR: join(disk.dir, "journal"),
    IDLE_TIMEOUT_MS: "3000",
    BEACON_GRACE_MS: "0",
    RING_BYTES: String(RING_BYTES),
    OVERFLOW_LIMIT: String(OVERFLOW_LIMIT),
  });
}

/** A visitor that opened the sign-up page. */
async function arrive(origin: string): Promise<Visitor> {
  const visitor = new Visitor(origin);
  await visitor.get("/signup");
  return visitor;
}

/** A sign-up: `keystrokes` validations, then the tab is closed. Returns the statuses it was served. */
async function signUp(origin: string | Visitor, who: string, keystrokes: number): Promise<number[]> {
  const visitor = typeof origin === "string" ? await arrive(origin) : origin;
  for (let i = 1; i <= keystrokes; i++) {
    await visitor.post("/signup/validate", { name: who.slice(0, i), email: `${who}@example.com`, password: "correct horse" }, "validate");
  }
  const statuses = visitor.pages.map((p) => p.status);
  await visitor.leave();
  return statuses;
}

const stats = async (origin: string) => (await (await fetch(`${origin}/__test/stats`)).json()) as EngineStats;
const engine = async (origin: string) => (await (await fetch(`${origin}/__test/engine`)).json()) as { mode: string; restarts: number; dropped: number };
/** What is left on the disk that only a write in progress should have. */
const leftovers = (disk: Tmpfs) => disk.files().filter((f) => /\.tmp-|\.tmp$|\.compact$/.test(f.path));

diskTest("a full disk: requests answer, the worker survives, frames are bounded then dropped and counted, and delivery resumes once space is freed", async () => {
  const disk = mountTmpfs("2m");
  const store = fileStorage({ path: join(disk.dir, "store") });
  try {
    const server = await start(disk);
    try {
      // While there is space: a visit is stored as usual.
      assert.equal([...new Set(await signUp(server.origin, "before", 3))], [200]);
      await until(async () => (await store.list()).items.length === 1, "the first visit to be stored");

      assert.is(disk.fill(), "ENOSPC", "the disk is full");
      const visitors = Array.from({ length: 12 }, (_, i) => `visitor${String(i).padStart(2, "0")}-${"x".repeat(40)}`);
      // Everyone arrives first: a recording whose start frame was dropped would not exist to be stored or counted in.
      const arrived = await Promise.all(visitors.map(() => arrive(server.origin)));
      const statuses = (await Promise.all(visitors.map((who, i) => signUp(arrived[i], who, 40)))).flat();
      assert.equal([...new Set(statuses)], [200], `every request answered 200 (${statuses.length} requests)`);

      const full = await until(async () => {
        const s = await stats(server.origin);
        return s.saveFailures > 0 && s.journalFailure ? s : undefined;
      }, "the store and the journal to fail");
      assert.match(full.journalFailure!, "ENOSPC");
      // The bound is checked before each batch, and a batch is at most what the ring holds.
      assert.ok(full.heldChars <= OVERFLOW_LIMIT + RING_BYTES, `frames held for the store stay within the bound (${full.heldChars} characters; ${OVERFLOW_LIMIT} + a ring of ${RING_BYTES})`);
      const during = await engine(server.origin);
      assert.ok(during.dropped > 0, `past the bound frames are dropped and counted (${during.dropped})`);
      assert.equal({ mode: during.mode, restarts: during.restarts }, { mode: "worker", restarts: 0 }, "the worker never died");
      const dashboard = await fetch(`${server.origin}/replay/`);
      assert.ok(dashboard.status < 500 || dashboard.status === 503, `the dashboard answers (${dashboard.status})`);
      await dashboard.body?.cancel();
      const journal = disk.files().filter((f) => f.path.startsWith("journal/"));
      assert.ok(journal.every((f) => f.size === 0), `the journal holds nothing while it cannot be kept current (${JSON.stringify(journal)})`);
      console.log(`full disk: ${full.saveFailures} store failures, ${full.heldChars} characters held, ${during.dropped} frames dropped`);

      disk.free();
      // Nobody asks: the engine's own retries deliver them once there is space.
      // A count that came after its recording was finalized reopens it: each recording ends up saying how many of its frames were dropped.
      const counted = async () => (await store.list()).items.reduce((n, s) => n + s.dropped, 0);
      await until(async () => {
        const items = (await store.list()).items;
        return items.length === 1 + visitors.length && (await counted()) === (await engine(server.origin)).dropped;
      }, "every visit to reach the store, with its dropped frames counted, after space was freed");
      const after = await engine(server.origin);
      assert.is(after.restarts, 0);
      assert.is(await counted(), after.dropped, "the recordings count every dropped frame");
      assert.is((await stats(server.origin)).journalFailure, undefined, "the journal is written again");
      assert.equal(leftovers(disk), [], "no temporary file is left behind");

      assert.is(await server.kill("SIGTERM"), 0, "everything was saved: the demo exits 0");
    } finally {
      await server.kill("SIGKILL");
    }
  } finally {
    disk.unmount();
  }
});

diskTest("a shutdown while the disk is full reports what could not be saved and exits non-zero; the next start removes what killed writers left", async () => {
  const disk = mountTmpfs("2m");
  try {
    const first = await start(disk);
    try {
      assert.is(disk.fill(), "ENOSPC", "the disk is full");
      await signUp(first.origin, "unlucky", 5);
      await until(async () => (await stats(first.origin)).saveFailures > 0, "the store to fail");
      const exit = await first.kill("SIGTERM");
      assert.is(exit, 1, "the demo exits non-zero");
      assert.match(first.output(), /1 recording\(s\) could not be saved .*crash journal could not be written either \(ENOSPC/);
    } finally {
      await first.kill("SIGKILL");
    }
    disk.free();
    // What a process killed mid-write leaves: zero-byte temporary files, a compaction never renamed in.
    const stale = ["store/recordings/0abandoned-1.hrp.tmp-k3j4h5g6", "store/index.json.tmp-a1b2c3d4", "journal/1-2-gone.journal.compact"];
    mkdirSync(join(disk.dir, "store/recordings"), { recursive: true });
    const longAgo = new Date(Date.now() - 10 * 60_000);
    for (const path of stale) {
      closeSync(openSync(join(disk.dir, path), "w"));
      utimesSync(join(disk.dir, path), longAgo, longAgo);
    }
    assert.equal(leftovers(disk).map((f) => f.path).sort(), [...stale].sort(), "they are there");
    const second = await start(disk);
    try {
      await until(async () => leftovers(disk).length === 0, "the next start's maintenance to remove them");
      // The warning comes from the worker thread: it reaches the output a moment after the files are gone.
      await until(async () => second.output().includes("temporary file(s) that writers which died mid-write left"), "the removal to be reported");
      assert.is(await second.kill("SIGTERM"), 0);
    } finally {
      await second.kill("SIGKILL");
    }
  } finally {
    disk.unmount();
  }
});

test.run();
