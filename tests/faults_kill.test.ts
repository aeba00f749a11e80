/**
 * A server killed with SIGKILL mid-session: the demo, run as a real child
 * process, is killed while a visitor types; the next start of the same demo
 * finds the dead process's journal, puts what it held into the store marked
 * `recovered`, finalizes the recordings once idle, and loses at most the last
 * second of events. Then the same with
 * PostgreSQL, after the persistence worker has also crashed once mid-session:
 * the worker's replacement and the next process both rebuild from the one
 * journal, with no event lost or repeated.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStorage, Player } from "../mod.ts";
import { decodeRecordingFile } from "../format/mod.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { SignupForm, TodoList } from "../examples/demo/views.tsx";
import { postgresUnavailable, startPostgres, type TestPostgres } from "./support/postgres.ts";
import { testUnless } from "./support/skip.ts";
import { assertRecoveredSignup, FIDELITY_KEY, type ServerProcess, startServer, until, Visitor } from "./faults_support.ts";

const temps: string[] = [];
const temp = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `hono-replay-${name}-`));
  temps.push(dir);
  return dir;
};
const running: ServerProcess[] = [];
const pgTest = testUnless(postgresUnavailable(), "the PostgreSQL kill test");
let pg: TestPostgres | undefined;

test.after(async () => {
  for (const server of running) await server.kill("SIGKILL");
  await pg?.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/**
 * Types `text` into the signup form's email field, one validation request per
 * keystroke, each sent when the previous one was answered (a client's own
 * pace, no pause), and goes on typing it again until `spanMs` have passed
 * since the first keystroke: a kill then finds keystrokes over a second old
 * (assertRecoveredSignup requires more than ten) as well as recent ones.
 */
async function typeFor(visitor: Visitor, name: string, start: string, text: string, spanMs: number, password = "not-recorded-1"): Promise<string> {
  const started = Date.now();
  let email = start;
  for (let i = 0; i < text.length || Date.now() - started < spanMs; i++) {
    email += text[i % text.length];
    await visitor.post("/signup/validate", { name, email, password }, "validate");
  }
  return email;
}

test("the demo killed with SIGKILL mid-session: the next start recovers its recordings, minus at most the last second", async () => {
  const dir = temp("kill-demo");
  // Idle recordings are finalized after IDLE_TIMEOUT_MS: long while the first runs, short for the next.
  const env = { PORT: "0", REPLAY_DIR: dir, IDLE_TIMEOUT_MS: "1500" };
  const first = await startServer("tests/faults_server.ts", { ...env, IDLE_TIMEOUT_MS: "60000" });
  running.push(first);

  // Two visitors mid-session: one typing into the signup form, one keeping todos.
  const typist = new Visitor(first.origin);
  await typist.get("/signup");
  const keeper = new Visitor(first.origin);
  await keeper.get("/todos");
  for (const title of ["water the plants", "call mum"]) await keeper.post("/todos", { title }, "add");
  await typeFor(typist, "Ada", "", "ada.lovelace@analytical-engine.example", 2_000);
  const killedAt = Date.now();
  assert.is(await first.kill("SIGKILL"), "SIGKILL");
  running.splice(running.indexOf(first), 1);

  const journalDir = join(dir, ".journal");
  assert.ok(readdirSync(journalDir).some((n) => n.includes(`-${first.pid}-`)), "the killed process left its journal");
  assert.equal((await fileStorage({ path: dir }).list()).items, [], "nothing was finalized: both recordings were still active");

  const second = await startServer("tests/faults_server.ts", env);
  running.push(second);
  const storage = fileStorage({ path: dir });
  const summaries = await until(async () => {
    const { items } = await storage.list({ order: "asc" });
    return items.length === 2 && items;
  }, "the recovered recordings");
  assert.equal(summaries.map((s) => s.view).sort(), ["SignupForm", "TodoList"]);
  // Neither was ended: their instance was killed. Whether their last frames came from its journal or
  // had reached the store as segments, the store sweep finalized them, marked recovered.
  assert.ok(summaries.every((s) => s.recovered), "both marked recovered");
  assert.not.ok(readdirSync(journalDir).some((n) => n.includes(`-${first.pid}-`)), "the dead process's journal is gone once recovered");

  const signup = await storage.load(summaries.find((s) => s.view === "SignupForm")!.id);
  const signupRecording = decodeRecordingFile(summaries.find((s) => s.view === "SignupForm")!.id, signup);
  assertRecoveredSignup(signupRecording, typist.sent, killedAt, new Player(signupRecording, SignupForm, FIDELITY_KEY));
  assert.not.match(JSON.stringify(signupRecording.events), "not-recorded-1", "the password stayed out, recovered or not");

  const todos = decodeRecordingFile(summaries.find((s) => s.view === "TodoList")!.id, await storage.load(summaries.find((s) => s.view === "TodoList")!.id));
  const todoPlayer = new Player(todos, TodoList, FIDELITY_KEY);
  assert.match(todoPlayer.renderFrame(todoPlayer.frameCount - 1).html, "call mum", "the todos were over a second old: all there");

  // The new process records as usual, and stops cleanly.
  const again = new Visitor(second.origin);
  await again.get("/todos");
  await again.post("/todos", { title: "after the crash" }, "add");
  // (Deno's child_process reports any child sent SIGTERM as killed by it, even one that exits 0: the saved recording below is the proof.)
  await second.kill("SIGTERM");
  running.splice(running.indexOf(second), 1);
  const after = (await storage.list({ order: "asc" })).items;
  assert.is(after.length, 3);
  assert.is(after[2].recovered, false);
  assert.not.ok(readdirSync(journalDir).some((n) => n.endsWith(".journal")), "a clean shutdown leaves no journal");
});

pgTest("PostgreSQL: a worker crash, then SIGKILL, mid-session: one journal carries the session through both", async () => {
  pg = await startPostgres();
  const journal = temp("kill-pg-journal");
  // A table of its own: DATABASE_URL may name a shared server.
  const table = `replay_kill_${Date.now().toString(36)}`;
  const env = { PORT: "0", DATABASE_URL: pg.url, REPLAY_TABLE: table, JOURNAL_DIR: journal, IDLE_TIMEOUT_MS: "1500" };
  const first = await startServer("tests/faults_server.ts", { ...env, IDLE_TIMEOUT_MS: "60000" });
  running.push(first);

  const typist = new Visitor(first.origin);
  await typist.get("/signup");
  await typeFor(typist, "Grace", "", "grace.hopper@", 0);
  // The persistence worker dies the way a bug kills it; requests keep coming while it is replaced.
  await fetch(`${first.origin}/__test/crash-worker`, { method: "POST" }).then((r) => r.body?.cancel());
  let typed = "grace.hopper@";
  await until(async () => {
    typed += "n";
    await typist.post("/signup/validate", { name: "Grace", email: typed, password: "x" }, "validate");
    const engine = await (await fetch(`${first.origin}/__test/engine`)).json();
    return engine.restarts >= 1;
  }, "the worker to be replaced");
  await typeFor(typist, "Grace", typed, "avy.mil.example", 1_500, "x");
  const killedAt = Date.now();
  await first.kill("SIGKILL");
  running.splice(running.indexOf(first), 1);

  const second = await startServer("tests/faults_server.ts", env);
  running.push(second);
  const storage = postgresStorage({ url: pg.url, table });
  try {
    const [summary] = await until(async () => {
      const { items } = await storage.list();
      return items.length > 0 && items;
    }, "the recovered recording in PostgreSQL");
    assert.is(summary.view, "SignupForm");
    const recording = decodeRecordingFile(summary.id, await storage.load(summary.id));
    assertRecoveredSignup(recording, typist.sent, killedAt, new Player(recording, SignupForm, FIDELITY_KEY));
    const emails = recording.events.flatMap((e) => (e.kind === "event" ? [(e.params as { email: string }).email] : []));
    assert.ok(emails.includes("grace.hopper@n"), "events from before the worker crash");
    assert.ok(emails.some((e) => e.endsWith(".mil")), "and from after it");
  } finally {
    await second.kill("SIGTERM");
    running.splice(running.indexOf(second), 1);
    await storage.clear();
    await storage.close();
  }
});

test.run();
