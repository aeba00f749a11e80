/**
 * Erasure on an instance that learns of it from the store (worker/erasure.ts),
 * made deterministic by holding back that instance's reading of the marks (a
 * storage whose listErasures answers nothing until released): it then writes
 * what it cannot know is erased, after the eraser searched the store — and
 * removes it itself once it reads the mark. And an erasure by session data
 * whose matching mount only one instance holds (unsent: nobody interacted
 * yet): that instance erases the whole session on its own.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, memoryStorage, type RecordingStorage, type Replay, type ReplayEnv, type ReplayOptions } from "../mod.ts";
import { randomToken } from "../format/mod.ts";
import { waitFor } from "../tests/support/wait.ts";

function Note(props: { text: string }) {
  return h("p", null, props.text);
}

const temps: string[] = [];
test.after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function journalDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-erasure-unit-"));
  temps.push(dir);
  return dir;
}
const journalText = (dir: string) => readdirSync(dir).map((name) => readFileSync(join(dir, name), "utf8")).join("\n");

/** `storage`, whose marks this handle does not see until `open()`. */
function heldBack(storage: RecordingStorage) {
  let open = false;
  return { storage: { ...storage, listErasures: async () => (open ? storage.listErasures() : []) }, open: () => void (open = true) };
}

function instance(storage: RecordingStorage, options: Partial<ReplayOptions> = {}) {
  const replay = createReplay({ views: { Note }, storage, worker: false, ...options });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.get("/note", (c) => c.var.replay.render(Note, { text: "start" }));
  app.post("/note", async (c) => c.var.replay.render(Note, { text: String((await c.req.parseBody()).text) }));
  return { replay, app };
}

async function visit(app: Hono<ReplayEnv>, query = ""): Promise<(text: string) => Promise<Response>> {
  const first = await app.request(`/note${query}`);
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  return async (text) => await app.request(`/note${query}`, { method: "POST", headers: { cookie }, body: new URLSearchParams({ text }) });
}

const segmentIds = async (storage: RecordingStorage) => [...new Set((await storage.listSegments()).map((s) => s.recordingId))];

test("a segment an instance wrote after the eraser searched, before it read the mark, is removed by that instance once it reads it", async () => {
  const shared = memoryStorage();
  const b = heldBack(shared);
  const journal = journalDir();
  const { replay: replayB, app } = instance(b.storage, { journal });
  const { replay: eraser } = instance(shared);
  const replays: Replay[] = [replayB, eraser];
  try {
    const type = await visit(app);
    await type(`before-${randomToken(6)}`);
    await replayB.flush();
    const [id] = await segmentIds(shared);
    assert.ok(id, "the recording is in the store");
    assert.is(await eraser.store.deleteRecording(id), true);
    assert.equal(await shared.loadSegments(id), [], "the eraser removed what was there");

    const late = `late-${randomToken(6)}`;
    await type(late);
    await replayB.flush();
    assert.ok((await shared.loadSegments(id)).some((s) => s.text.includes(late)), "b wrote more of it, not knowing (the race this is about)");
    b.open();
    await waitFor(async () => (await shared.loadSegments(id)).length === 0, "b to remove what it wrote once it reads the mark", 10_000);
    const later = `later-${randomToken(6)}`;
    await type(later);
    await replayB.flush();
    assert.equal(await shared.loadSegments(id), [], "from then on its frames are dropped");
    for (const text of [late, later]) assert.not.ok(journalText(journal).includes(text), `${text} is not in b's journal`);
  } finally {
    for (const replay of replays) await replay.close();
  }
  assert.equal((await shared.list()).items, [], "nothing is finalized at shutdown either");
  assert.equal(await shared.listSegments(), []);
});

test("eraseWhere: a matching mount only one instance holds (unsent) makes that instance erase the whole session", async () => {
  const shared = memoryStorage();
  const journal = journalDir();
  const { replay: holder, app } = instance(shared, { journal, session: (c) => ({ userId: c.req.query("user") ?? null }) });
  const { replay: eraser } = instance(shared);
  try {
    const ada = await visit(app, "?user=u-ada"); // a mount, no interaction yet: it waits in the holder's memory
    const report = await eraser.store.eraseWhere({ session: { userId: "u-ada" } });
    assert.equal(report.recordings, [], "the eraser finds nothing in the store: only the holder has the mount");
    const derived = await waitFor(async () => (await shared.listErasures()).find((e) => e.sessionKey && e.id.startsWith(report.erasure.id)), "the holder to erase ada's session", 10_000);
    const secret = `typed-${randomToken(6)}`;
    await ada(secret);
    const bob = await visit(app, "?user=u-bob");
    await bob("bob types");
    await holder.flush();
    const held = await Promise.all((await segmentIds(shared)).map((id) => shared.loadSegments(id)));
    const texts = held.flat().map((s) => s.text).join("\n");
    assert.ok(texts.includes("bob types"), "another user's session is recorded (the positive control)");
    assert.not.ok(texts.includes(secret), "ada's session goes on unrecorded");
    assert.not.ok(texts.includes(derived.sessionKey!), "nothing of ada's session is in the store");
    assert.not.ok(journalText(journal).includes(secret), "nor in the journal");
  } finally {
    await holder.close();
    await eraser.close();
  }
  assert.equal((await shared.list()).items.map((s) => s.view), ["Note"], "bob's recording alone is finalized");
});

test.run();
