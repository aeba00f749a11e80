/**
 * Conformance cases: erasure (storage/erasure.ts), part of the suite in
 * storage/conformance.ts: the backend's erasure marks (`addErasure`, `listErasures`),
 * and erasure end to end through createReplay on the backend — by session key,
 * by session data and by recording id — with the erased sessions continuing
 * afterwards, and a session that is not erased as the control.
 *
 * Marks outlive `clear()` by design, so the cases use ids of their own and
 * start times that cover nothing another case records.
 */

import { Hono } from "hono";
import * as nodeAssert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeRecordingFile, InvalidIdError, parseFrameHeader, randomToken, RecordingNotFoundError } from "../../format/mod.ts";
import type { ReplayEnv } from "../../recorder/mod.ts";
import type { Erasure, RecordingStorage } from "../types.ts";
import { createReplay } from "../../mod.ts";
import { FixtureView } from "./fixtures.ts";
import { borrowed, type Harness } from "./harness.ts";

const HOUR = 3_600_000;

export function erasureCases(h: Harness): void {
  const { test } = h;
  test("erasure marks: every handle lists one once added; the same id again changes nothing; clear keeps them; expired ones are not listed", () => erasureMarks(h));
  test("erasure through createReplay: by session data, by session key and by recording id, gone from the store and the journal and kept out while the sessions go on", () => erasureEndToEnd(h));
}

async function erasureMarks(h: Harness): Promise<void> {
  const run = randomToken(8);
  const bySession: Erasure = { id: `0mark-${run}-a`, at: 1, until: Date.now() + HOUR, sessionKey: "k1" };
  const byData: Erasure = { id: `0mark-${run}-b`, at: 2, until: Date.now() + HOUR, session: { userId: "42", org: { id: 7, admin: true, note: null } } };
  await h.storage.addErasure(bySession);
  await h.other.addErasure(byData);
  await h.other.addErasure({ ...bySession, sessionKey: "changed" });
  await h.storage.addErasure({ id: `0mark-${run}-old`, at: 3, until: Date.now() - 1, recordingId: "0rec-x" });
  const mine = async (handle: RecordingStorage) => (await handle.listErasures()).filter((e) => e.id.includes(run)).sort((a, b) => a.at - b.at);
  nodeAssert.deepStrictEqual(await mine(h.other), [bySession, byData], "listed whole by the other handle, the first version of a) kept, the expired one left out");
  await h.storage.clear();
  nodeAssert.deepStrictEqual(await mine(h.storage), [bySession, byData], "clear() keeps the marks: they must outlive what they erased");
  for (const id of ["../x", "", "a/b", "x".repeat(101)]) {
    await nodeAssert.rejects(h.storage.addErasure({ ...bySession, id }), InvalidIdError, `id ${JSON.stringify(id)} refused`);
  }
}

async function erasureEndToEnd(h: Harness): Promise<void> {
  const journal = mkdtempSync(join(tmpdir(), "hono-replay-conformance-erasure-"));
  const replay = createReplay({ views: { Counter: FixtureView }, storage: borrowed(h.other), journal, session: (c) => ({ userId: c.req.query("user") ?? null }) });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.get("/counter", (c) => c.var.replay.render(FixtureView, { label: "start", count: 0 }));
  app.post("/counter", async (c) => c.var.replay.render(FixtureView, { label: String((await c.req.parseBody()).note ?? ""), count: 1 }));
  const cookies = new Map<string, string>();
  const post = (who: string, text: string) =>
    app.request(`/counter?user=${who}`, { method: "POST", headers: { cookie: cookies.get(who)! }, body: new URLSearchParams({ note: text }) });
  const marker = (who: string) => `Marker-${who}-${randomToken(6)}`;
  const markers = new Map(["ada", "bob", "cyd", "dee"].map((who) => [who, marker(who)]));
  try {
    for (const [who, text] of markers) {
      const first = await app.request(`/counter?user=${who}`);
      cookies.set(who, first.headers.get("set-cookie")!.split(";")[0]);
      await post(who, text);
    }
    await replay.flush();
    const before = await storeText(h.storage);
    for (const [who, text] of markers) nodeAssert.ok(before.text.includes(text), `${who}'s marker is in the store before erasure (the search sees recorded data)`);
    nodeAssert.ok(journalText(journal).includes(markers.get("ada")!), "and in the journal");

    const byData = await replay.store.eraseWhere({ session: { userId: "ada" } });
    const bob = before.sessionOf(markers.get("bob")!);
    const bySession = await replay.store.eraseSession(bob.sessionKey);
    const cyd = before.sessionOf(markers.get("cyd")!);
    nodeAssert.ok(await replay.store.deleteRecording(cyd.id), "deleteRecording found it");
    nodeAssert.deepStrictEqual(byData.recordings, [before.sessionOf(markers.get("ada")!).id], "eraseWhere reports ada's recording");
    nodeAssert.deepStrictEqual(bySession.recordings, [bob.id]);
    nodeAssert.deepStrictEqual(bySession.sessions, [bob.sessionKey]);

    const assertGone = async (when: string) => {
      const after = await storeText(h.storage);
      const files = journalText(journal);
      for (const who of ["ada", "bob", "cyd"]) {
        nodeAssert.ok(!after.text.includes(markers.get(who)!), `${when}: ${who}'s marker is not in the store`);
        nodeAssert.ok(!files.includes(markers.get(who)!), `${when}: ${who}'s marker is not in the journal`);
      }
      nodeAssert.ok(after.text.includes(markers.get("dee")!), `${when}: dee, not erased, is still in the store`);
    };
    await assertGone("right after erasure");
    // The erased sessions go on: what they send to the recordings they had open is dropped.
    for (const who of ["ada", "bob", "cyd", "dee"]) await post(who, markers.get(who)!);
    await replay.flush();
    await assertGone("after the sessions went on");
    await nodeAssert.rejects(replay.store.getRecording(bob.id), RecordingNotFoundError);
    const marks = (await h.storage.listErasures()).map((e) => e.id);
    for (const report of [byData, bySession]) nodeAssert.ok(marks.includes(report.erasure.id), "the mark is in the store for other instances");
  } finally {
    await replay.close();
    rmSync(journal, { recursive: true, force: true });
  }
  const kept = (await h.storage.list({ view: "Counter" })).items;
  nodeAssert.strictEqual(kept.length, 1, "only the session nobody erased is finalized");
  nodeAssert.ok((await storeText(h.storage)).text.includes(markers.get("dee")!));
}

/** Everything the store holds, as text: segments and recordings (decoded), and which recording and session a marker is in. */
async function storeText(storage: RecordingStorage) {
  const parts: { id: string; sessionKey: string; text: string }[] = [];
  for (const id of new Set((await storage.listSegments()).map((s) => s.recordingId))) {
    const text = (await storage.loadSegments(id)).map((s) => s.text).join("\n");
    const start = text.split("\n").find((line) => parseFrameHeader(line)?.kind === "s")!;
    parts.push({ id, sessionKey: (JSON.parse(start.slice(parseFrameHeader(start)!.payloadAt)) as { sessionKey: string }).sessionKey, text });
  }
  for (const summary of (await storage.list()).items) {
    parts.push({ id: summary.id, sessionKey: summary.sessionKey, text: JSON.stringify(decodeRecordingFile(summary.id, await storage.load(summary.id))) });
  }
  return {
    text: parts.map((p) => p.text).join("\n"),
    sessionOf(marker: string) {
      const part = parts.find((p) => p.text.includes(marker));
      nodeAssert.ok(part, `a recording holds ${marker}`);
      return part;
    },
  };
}

/** Every file of the journal directory, as text. */
function journalText(dir: string): string {
  return readdirSync(dir).map((name) => readFileSync(join(dir, name), "utf8")).join("\n");
}
