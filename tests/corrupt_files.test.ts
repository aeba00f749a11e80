/**
 * Corrupt recordings in file storage, made for real: recordings recorded
 * through the demo app, then their `.hrp` files truncated or emptied on disk.
 * The store lists them as corrupt with the reason — whether the index still
 * lists them (a truncated file under an intact index) or a rebuilt index left
 * them out — opening one is a CorruptRecordingError for it alone, they can be
 * deleted, and cleanup removes them by age like any other recording.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CorruptRecordingError, fileStorage, type Replay, type RecordingSummary } from "../mod.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { recordSignup } from "./support/demo_visits.ts";
import { readIndexFiles, writeIndexFiles } from "./support/file_index.ts";
import { waitFor } from "./support/wait.ts";

const DAY = 24 * 60 * 60_000;

/** Three recordings made through the demo app, their files and their summaries (newest first). */
async function threeRecordings(maxRecordingAgeMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-corrupt-"));
  const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir }), worker: false, beaconGraceMs: 0, maxRecordingAgeMs });
  for (const name of ["Ada", "Bob", "Cy"]) await recordSignup(app, name);
  // The beacon ends each recording on a timer (its grace period): wait for the three to be finalized.
  const list = await waitFor(async () => {
    await replay.flush();
    const summaries = await replay.store.listRecordingSummaries();
    return summaries.length === 3 && summaries;
  }, "three recordings to be stored");
  const file = (id: string) => join(dir, "recordings", `${id}.hrp`);
  return { dir, replay, list, file };
}

const ids = (list: { id: string }[]) => list.map((r) => r.id).sort();

async function rejects(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function cleanupAll(replay: Replay, dir: string) {
  await replay.close();
  rmSync(dir, { recursive: true, force: true });
}

test("an intact index: a truncated and an emptied file are listed as corrupt with the reason, fail alone when opened, and can be deleted", async () => {
  const { dir, replay, list, file } = await threeRecordings();
  try {
    assert.equal(await replay.store.listCorrupt(), [], "nothing is corrupt yet");
    const [truncated, empty, fine] = list;
    truncateSync(file(truncated.id), 7);
    writeFileSync(file(empty.id), new Uint8Array(0));

    const corrupt = await replay.store.listCorrupt();
    assert.equal(ids(corrupt), ids([truncated, empty]));
    for (const c of corrupt) {
      assert.match(c.reason, `recording ${c.id} is corrupt (`, "the reason names it and says what is wrong");
      assert.match(c.reason, "delete it or restore it from a backup", "and what to do");
    }
    assert.is(corrupt.find((c) => c.id === empty.id)!.sizeBytes, 0);
    assert.is(corrupt.find((c) => c.id === truncated.id)!.sizeBytes, 7);

    assert.instance(await rejects(() => replay.store.getRecording(truncated.id)), CorruptRecordingError);
    assert.instance(await rejects(() => replay.store.getRecording(empty.id)), CorruptRecordingError);
    assert.is((await replay.store.getRecording(fine.id)).id, fine.id, "the others still open");

    for (const c of corrupt) assert.ok(await replay.store.deleteRecording(c.id), `${c.id} deleted`);
    assert.equal(await replay.store.listCorrupt(), []);
    assert.equal(ids(await replay.store.listRecordingSummaries()), [fine.id]);
    assert.not.ok(existsSync(file(truncated.id)) || existsSync(file(empty.id)), "their files are gone");
  } finally {
    await cleanupAll(replay, dir);
  }
});

test("a rebuilt index leaves corrupt files out of the listing, but listCorrupt still shows them, and delete removes them", async () => {
  const { dir, replay, list, file } = await threeRecordings();
  try {
    const [truncated, empty, fine] = list;
    truncateSync(file(truncated.id), 20);
    writeFileSync(file(empty.id), new Uint8Array(0));
    rmSync(join(dir, "index.json"));
    const warn = console.warn;
    console.warn = () => {}; // the rebuild reports each file it leaves out
    let listed: RecordingSummary[];
    try {
      listed = await replay.store.listRecordingSummaries();
    } finally {
      console.warn = warn;
    }
    assert.equal(ids(listed), [fine.id], "the rebuilt index lists only what can be read");
    assert.equal(ids(await replay.store.listCorrupt()), ids([truncated, empty]), "the others are listed as corrupt");
    assert.ok(await replay.store.deleteRecording(truncated.id), "a corrupt recording the index does not list can be deleted");
    assert.equal(ids(await replay.store.listCorrupt()), [empty.id]);
  } finally {
    await cleanupAll(replay, dir);
  }
});

test("cleanup removes corrupt recordings by age: listed ones by when they started, left-out ones by when they were written", async () => {
  const { dir, replay, list, file } = await threeRecordings(7 * DAY);
  try {
    const [listedOld, leftOutOld, leftOutNew] = list;
    for (const r of list) truncateSync(file(r.id), 9);
    // The index still lists one of them, dated 8 days ago; the other two it does not list.
    const index = readIndexFiles(dir);
    index[listedOld.id].startedAt = Date.now() - 8 * DAY;
    delete index[leftOutOld.id];
    delete index[leftOutNew.id];
    writeIndexFiles(dir, index);
    const eightDaysAgo = new Date(Date.now() - 8 * DAY);
    utimesSync(file(leftOutOld.id), eightDaysAgo, eightDaysAgo);
    assert.equal(ids(await replay.store.listCorrupt()), ids(list), "all three are corrupt");

    const removed = await replay.store.cleanup();
    assert.equal(removed.sort(), ids([listedOld, leftOutOld]), "the two older than maxRecordingAgeMs are removed");
    assert.equal(ids(await replay.store.listCorrupt()), [leftOutNew.id], "a recent one stays, for someone to look at");
    assert.not.ok(existsSync(file(listedOld.id)) || existsSync(file(leftOutOld.id)));
  } finally {
    await cleanupAll(replay, dir);
  }
});

test.run();
