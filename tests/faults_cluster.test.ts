/**
 * The "done means": the same demo, pointed at PostgreSQL, runs as two
 * server processes recording into one database at once; the database is
 * restarted while they run; one server is killed with SIGKILL mid-session and
 * started again. Afterwards the database holds every recording of both —
 * nothing lost beyond the killed server's last second — each once, and every
 * one replays byte-identical.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Player, type View } from "../mod.ts";
import { decodeRecordingFile } from "../format/mod.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { SignupForm, TodoList } from "../examples/demo/views.tsx";
import { postgresNotOwned, startPostgres, type TestPostgres } from "./support/postgres.ts";
import { testUnless } from "./support/skip.ts";
import { assertRecoveredSignup, FIDELITY_KEY, Fleet, type ServerProcess, sleep, until, Visitor } from "./faults_support.ts";

const clusterTest = testUnless(postgresNotOwned(), "the cluster test (it restarts PostgreSQL)");
const fleet = new Fleet();
let pg: TestPostgres | undefined;

test.after(async () => {
  await fleet.cleanup();
  await pg?.close();
});

const start = (env: Record<string, string>): Promise<ServerProcess> => fleet.start(env);
const stop = (server: ServerProcess, signal: "SIGKILL" | "SIGTERM") => fleet.stop(server, signal);

/** A visitor signing up: opens the form and types an email, one validation per keystroke. */
async function signup(origin: string, name: string, email: string, pauseMs = 20): Promise<Visitor> {
  const visitor = new Visitor(origin);
  await visitor.get("/signup");
  await typeMore(visitor, name, "", email, pauseMs);
  return visitor;
}

async function typeMore(visitor: Visitor, name: string, typed: string, more: string, pauseMs: number): Promise<string> {
  for (const ch of more) {
    typed += ch;
    await visitor.post("/signup/validate", { name, email: typed, password: "hunter2hunter2" }, "validate");
    await sleep(pauseMs);
  }
  return typed;
}

async function todos(origin: string, titles: string[]): Promise<Visitor> {
  const visitor = new Visitor(origin);
  await visitor.get("/todos");
  for (const title of titles) await visitor.post("/todos", { title }, "add");
  return visitor;
}

/** The engine's counters, after it tried to write everything it holds. */
const stats = async (server: ServerProcess) => (await fetch(`${server.origin}/__test/flush`, { method: "POST" })).json();

clusterTest("two servers, one database restarted, one server killed: everything lists and replays", async () => {
  pg = await startPostgres();
  const table = "replay_cluster";
  const journalA = mkdtempSync(join(tmpdir(), "hono-replay-cluster-a-"));
  const journalB = mkdtempSync(join(tmpdir(), "hono-replay-cluster-b-"));
  fleet.removeLater(journalA, journalB);
  const envOf = (journal: string) => ({ PORT: "0", DATABASE_URL: pg!.url, REPLAY_TABLE: table, JOURNAL_DIR: journal, BEACON_GRACE_MS: "200", IDLE_TIMEOUT_MS: "2000" });
  const a = await start(envOf(journalA));
  // Eve's session on B pauses while the test waits for both servers to deliver after the database
  // returns (store retries are up to 5 s apart): B's idle timeout must outlast that pause, or her
  // recording rightly ends idle and her next keystroke starts another (seen on a loaded machine).
  const b = await start({ ...envOf(journalB), IDLE_TIMEOUT_MS: "20000" });
  const storage = postgresStorage({ url: pg.url, table });

  try {
    // Both servers record at once; the visitors close their tabs (the beacon ends their recordings).
    const [a1, b1, a2, b2] = await Promise.all([
      signup(a.origin, "Ada", "ada@a.example"),
      signup(b.origin, "Bob", "bob@b.example"),
      todos(a.origin, ["milk", "eggs"]),
      todos(b.origin, ["bread"]),
    ]);
    await Promise.all([a1, b1, a2, b2].map((v) => v.leave()));
    await until(async () => (await storage.list()).items.length === 4 || undefined, "the first four recordings");

    // The database goes down; both servers keep recording, and keep what ends in their journals.
    pg.stop();
    const [a3, b3] = await Promise.all([signup(a.origin, "Cy", "cy@a.example"), signup(b.origin, "Di", "di@b.example")]);
    await Promise.all([a3.leave(), b3.leave()]);
    await until(async () => (await stats(a)).waitingForStorage > 0 && (await stats(b)).waitingForStorage > 0, "both servers to hold recordings for the store");
    // A visitor on B is mid-session when the database comes back and B is killed.
    const b4 = await signup(b.origin, "Eve", "eve@");
    pg.start();
    // Both deliver what waited (a flush tries at once, whatever the backoff says).
    await until(async () => (await stats(a)).waitingForStorage === 0 && (await stats(b)).waitingForStorage === 0, "both servers to deliver");
    await typeMore(b4, "Eve", "eve@", "mail.eve-and-bob.example.org", 80);
    const killedAt = Date.now();
    await stop(b, "SIGKILL");

    // B starts again on its journal directory; A shuts down cleanly.
    const b2nd = await start(envOf(journalB));
    await until(async () => (await storage.list()).items.length === 7 || undefined, "all seven recordings");
    // B's journal is recovered once its erasure marks are known: a recovered segment can arrive after the
    // store sweep finalized its recording, and the next sweep merges it in (it must not stay a segment).
    await until(async () => (await storage.listSegments()).length === 0 || undefined, "late recovered segments merged in");
    await stop(a, "SIGTERM");
    await stop(b2nd, "SIGTERM");
    assert.equal(await storage.listSegments(), [], "every frame reached a finalized recording");

    // What a dashboard does: list, open, replay.
    const items = (await storage.list({ order: "asc" })).items;
    assert.is(items.length, 7, "each recording once");
    assert.is(new Set(items.map((s) => s.id)).size, 7);
    assert.is(new Set(items.map((s) => s.sessionKey)).size, 7, "seven visitors");
    const views: Record<string, View> = { SignupForm, TodoList };
    const byEmail = new Map<string, Visitor>([["ada@a.example", a1], ["bob@b.example", b1], ["cy@a.example", a3], ["di@b.example", b3]]);
    for (const summary of items) {
      const recording = decodeRecordingFile(summary.id, await storage.load(summary.id));
      const player = new Player(recording, views[summary.view], FIDELITY_KEY);
      if (summary.recovered) {
        assertRecoveredSignup(recording, b4.sent, killedAt, player);
        continue;
      }
      assert.is(player.fidelity().identical, player.frameCount, `${summary.view} ${summary.id} replays byte-identical`);
      if (summary.view === "SignupForm") {
        const emails = recording.events.flatMap((e) => (e.kind === "event" ? [(e.params as { email: string }).email] : []));
        const visitor = byEmail.get(emails[emails.length - 1]);
        assert.ok(visitor, `a known visitor: ${emails[emails.length - 1]}`);
        assert.equal(emails, visitor!.sent.map((s) => s.form.email), "every keystroke, in order, once");
      }
    }
    assert.equal(items.filter((s) => s.recovered).map((s) => s.view), ["SignupForm"], "only Eve's session, cut by the kill, is recovered");
    assert.equal(items.filter((s) => s.view === "TodoList").length, 2);
  } finally {
    await storage.close();
  }
});

test.run();
