/**
 * Erasure (#13) with real server processes sharing a store: a session is
 * recorded with a marker value (in a URL, form fields, a todo), erased through
 * one instance's `replay.store` while every server keeps running, and then
 * every file under the storage directory and the journal directory (recordings
 * inflated) and every row of the database is searched. Positive controls: the
 * search finds the marker in each kind of place before the erasure, and the
 * session, going on afterwards, is recorded again in a new recording — while
 * the marker, and the erased recordings, do not come back, also not through a
 * clean shutdown that finalizes everything.
 *
 * - fileStorage, three instances: one erases, one learns it from the store,
 *   one was killed before (its journal is recovered, and scrubbed, at once).
 * - PostgreSQL, two instances with the default journal directory: erased by
 *   the session data the app stores (`eraseWhere`), through the other instance.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileStorage, type RecordingStorage } from "../mod.ts";
import { parseFrameHeader, randomToken } from "../format/mod.ts";
import { defaultJournalDir } from "../options.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { Fleet, type ServerProcess, until, Visitor } from "./faults_support.ts";
import { postgresUnavailable, startPostgres, type TestPostgres } from "./support/postgres.ts";
import { hits, type Scanned, scanFiles, scanTables } from "./support/scan.ts";

const fleet = new Fleet();
let pg: TestPostgres | undefined;

test.after(async () => {
  await fleet.cleanup();
  await pg?.close();
});

const post = (server: ServerProcess, path: string) => fetch(server.origin + path, { method: "POST" }).then(async (r) => {
  assert.ok(r.ok, `${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
});

/** The recordings of one session in the store, active or finalized, by view. */
async function sessionRecordings(storage: RecordingStorage, sessionKey: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of (await storage.list({ sessionKey })).items) out.set(s.view, s.id);
  for (const id of new Set((await storage.listSegments()).map((s) => s.recordingId))) {
    for (const segment of await storage.loadSegments(id)) {
      const start = segment.text.split("\n")[0];
      const h = parseFrameHeader(start);
      const meta = h && (JSON.parse(start.slice(h.payloadAt)) as { view: string; sessionKey: string });
      if (meta?.sessionKey === sessionKey) out.set(meta.view, id);
    }
  }
  return out;
}

/** Waits until the search finds `marker` nowhere, and says how long that took. */
async function gone(scan: () => Promise<Scanned[]>, marker: string, what: string): Promise<number> {
  const from = Date.now();
  let left: string[] = [];
  try {
    await until(async () => (left = hits(await scan(), marker)).length === 0, `${what}: the marker to be gone`, 15_000);
  } catch (error) {
    throw new Error(`${what}: the marker is still in ${left.join(", ")}`, { cause: error });
  }
  return Date.now() - from;
}

test("fileStorage, three instances, one killed: a session erased through one instance is gone from every file at once, and stays gone while the session goes on", async () => {
  const dir = fleet.tempDir("erasure-file");
  const [a, b, c] = await fleet.startMany(3, { REPLAY_DIR: dir });
  const storage = fileStorage({ path: dir });
  const marker = `Zq${randomToken(10)}`;
  const scan = async () => scanFiles(dir);
  // A finalized recording of the session, on one instance (so that its summary, in the index, has the
  // mount's URL with the marker), then an active one on every instance.
  const visitor = new Visitor(a.origin);
  await visitor.get(`/todos?ref=${marker}`);
  await visitor.post("/todos", { title: `buy ${marker}` }, "add");
  await visitor.leave();
  const todo = await until(async () => (await storage.list({ view: "TodoList" })).items[0], "the todo list to be finalized");
  visitor.reroute([a, b, c].map((s) => s.origin));
  await visitor.get("/signup");
  for (let i = 0; i < 6; i++) await visitor.post("/signup/validate", { name: `${marker}${i}`, email: "ada@example.test", password: "x" }, "validate");
  for (const server of [a, b, c]) await post(server, "/__test/flush");
  const found = hits(await scan(), marker);
  for (const place of [".hrp", "index.json", "/segments/", "/.journal/"]) assert.ok(found.some((f) => f.includes(place)), `before erasure the marker is in ${place} (found in ${found.join(", ")})`);
  const erased = await sessionRecordings(storage, todo.sessionKey);
  assert.equal([...erased.keys()].sort(), ["SignupForm", "TodoList"]);

  // Checked before the kill: once c is dead, a or b may recover its journal at any moment (into
  // segments, which the erasure must reach as well), so after the kill either place may hold it.
  assert.ok(hits(await scan(), marker).some((f) => f.includes(`-${c.pid}-`)), "the instance about to be killed journals the marker");
  await fleet.stop(c, "SIGKILL"); // its journal stays behind until another instance recovers it
  visitor.reroute([a.origin, b.origin]);
  const report = await post(a, `/__test/erase?session=${todo.sessionKey}`) as { recordings: string[]; sessions: string[] };
  assert.equal(report.recordings.sort(), [...erased.values()].sort(), "the report names both recordings");
  assert.equal(report.sessions, [todo.sessionKey]);
  const took = await gone(scan, marker, "right after the erasure");
  console.log(`erased from every file ${took} ms after eraseSession returned (b learns within about a second)`);

  // The session goes on: its open recording stays erased, a new view is recorded anew.
  for (let i = 0; i < 4; i++) await visitor.post("/signup/validate", { name: `later${i}`, email: "ada@example.test", password: "x" }, "validate");
  await visitor.get("/posts?q=ring");
  await visitor.get("/posts?q=deno");
  for (const server of [a, b]) await post(server, "/__test/flush");
  assert.equal(hits(await scan(), marker), [], "nothing came back");
  const after = await sessionRecordings(storage, todo.sessionKey);
  assert.equal([...after.keys()], ["PostIndex"], "the erased recordings stay erased; the session's new one is recorded");

  // A clean shutdown finalizes what the instances hold: nothing erased among it.
  for (const server of [a, b]) await fleet.stop(server, "SIGTERM");
  const final = await until(async () => {
    const items = (await storage.list({ sessionKey: todo.sessionKey })).items;
    return items.length > 0 && (await storage.listSegments()).length === 0 && items;
  }, "the new recording to be finalized");
  assert.equal(final.map((s) => s.view), ["PostIndex"]);
  assert.equal(hits(await scan(), marker), [], "not in any file after shutdown either");
});

const pgTest = postgresUnavailable() ? test.skip : test;
pgTest("PostgreSQL, two instances, the default journal directory: a user erased by session data through the other instance is gone from every row and every journal, and stays gone", async () => {
  pg ??= await startPostgres();
  const table = `replay_erasure_${randomToken(6)}`;
  const storage = postgresStorage({ url: pg.url, table });
  const journal = defaultJournalDir(storage)!;
  fleet.removeLater(journal);
  const [a, b] = await fleet.startMany(2, { DATABASE_URL: pg.url, REPLAY_TABLE: table });
  const { default: postgres } = await import("postgres");
  const sql = postgres(pg.url, { onnotice: () => {} });
  const marker = `Zq${randomToken(10)}`;
  const user = `u${randomToken(8)}@example.test`;
  const scan = async () => [...scanFiles(journal), ...(await scanTables(sql, table))];
  try {
    const visitor = new Visitor([a, b].map((s) => s.origin));
    await visitor.get(`/signup?ref=${marker}`);
    for (let i = 0; i < 4; i++) await visitor.post("/signup/validate", { name: `${marker}${i}`, email: user, password: "x" }, "validate");
    await visitor.post("/signup", { name: marker, email: user, password: "Correct-Horse-9" }, "submit"); // signs in: session() stores demoUser
    await visitor.get("/todos");
    await visitor.post("/todos", { title: `buy ${marker}` }, "add");
    for (const server of [a, b]) await post(server, "/__test/flush");
    const found = hits(await scan(), marker);
    assert.ok(found.some((f) => f.startsWith(`${table}_segments/`)), `before erasure the marker is in the segments table (found in ${found.join(", ")})`);
    assert.ok(found.some((f) => f.startsWith(journal)), "and in a journal file");

    const report = await post(b, `/__test/erase?demoUser=${encodeURIComponent(user)}`) as { recordings: string[]; sessions: string[] };
    assert.is(report.sessions.length, 1, "the user's session, found by its session data");
    assert.is(report.recordings.length, 2, "both of its recordings: the todo list (whose mount has the data) and the signup before it");
    const took = await gone(scan, marker, "right after the erasure");
    console.log(`erased from every row and journal ${took} ms after eraseWhere returned`);

    for (let i = 0; i < 3; i++) await visitor.post("/signup/validate", { name: `later${i}`, email: user, password: "x" }, "validate");
    await visitor.get("/posts?q=ring");
    await visitor.get("/posts?q=deno");
    for (const server of [a, b]) await post(server, "/__test/flush");
    assert.equal(hits(await scan(), marker), [], "nothing came back");
    assert.equal([...(await sessionRecordings(storage, report.sessions[0])).keys()], ["PostIndex"], "the session's new recording is recorded");
    for (const server of [a, b]) await fleet.stop(server, "SIGTERM");
    await until(async () => (await storage.listSegments()).length === 0, "everything to be finalized");
    assert.equal(hits(await scan(), marker), [], "not in any row or journal after shutdown either");
  } finally {
    await sql.end({ timeout: 5 });
    await storage.close();
  }
});

test.run();
