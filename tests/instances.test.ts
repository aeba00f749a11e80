/**
 * One session, several instances: demo server processes share one store (a
 * directory, a Deno KV file, a PostgreSQL database) behind a "load balancer"
 * without sticky sessions — a visitor whose requests go to each instance in
 * turn, with the same cookies. Afterwards the store holds one recording per
 * view of the session, with every keystroke once and in order, and every frame
 * replays byte-identical; also when one instance is killed with SIGKILL
 * mid-session.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { denoKvStorage, fileStorage, Player, type RecordingStorage, type RecordingSummary, type View } from "../mod.ts";
import { decodeRecordingFile } from "../format/mod.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { SignupForm, TodoList } from "../examples/demo/views.tsx";
import { postgresUnavailable, startPostgres, type TestPostgres } from "./support/postgres.ts";
import { FIDELITY_KEY, Fleet, type ServerProcess, until, Visitor } from "./faults_support.ts";

const views: Record<string, View> = { SignupForm, TodoList };
const fleet = new Fleet();
let pg: TestPostgres | undefined;

test.after(async () => {
  await fleet.cleanup();
  await pg?.close();
});

const temp = (prefix: string) => fleet.tempDir(prefix);

interface Backend {
  name: string;
  skip?: string;
  /** Environment for a server process, and a handle on the same store for the test. */
  open(): Promise<{ env: Record<string, string>; storage: RecordingStorage }>;
}

const pgSkip = postgresUnavailable();
let tables = 0;
const backends: Backend[] = [
  {
    name: "fileStorage directory",
    async open() {
      const dir = temp("instances-file");
      return { env: { REPLAY_DIR: dir }, storage: fileStorage({ path: dir }) };
    },
  },
  {
    name: "Deno KV file",
    async open() {
      const path = join(temp("instances-kv"), "replay.kv");
      return { env: { REPLAY_KV: path }, storage: denoKvStorage({ path }) };
    },
  },
  {
    name: "PostgreSQL",
    skip: pgSkip,
    async open() {
      pg ??= await startPostgres();
      const table = `replay_instances_${++tables}`;
      return { env: { DATABASE_URL: pg.url, REPLAY_TABLE: table }, storage: postgresStorage({ url: pg.url, table }) };
    },
  },
];

const startInstances = (count: number, env: Record<string, string>) => fleet.startMany(count, env);

async function stop(server: ServerProcess, signal: "SIGKILL" | "SIGTERM") {
  const code = await fleet.stop(server, signal);
  // (Deno's child_process reports a child sent SIGTERM as killed by it even when it exits 0: the stored recordings are the proof there.)
  if (signal === "SIGTERM" && !("Deno" in globalThis)) assert.is(code, 0, `a clean shutdown:\n${server.output()}`);
}

/** Opens the form and types `email`, one validation per keystroke. */
async function typeEmail(visitor: Visitor, email: string, from = 0): Promise<void> {
  for (let i = from; i < email.length; i++) {
    await visitor.post("/signup/validate", { name: "Ada", email: email.slice(0, i + 1), password: "hunter2hunter2" }, "validate");
  }
}

/** The session's recordings in the store, once finalized; each view once. */
async function finalized(storage: RecordingStorage, count: number): Promise<RecordingSummary[]> {
  return await until(async () => {
    const items = (await storage.list({ order: "asc" })).items;
    return items.length >= count && (await storage.listSegments()).length === 0 ? items : undefined;
  }, `${count} finalized recordings and no segment left`, 60_000);
}

function emailsOf(storage: RecordingStorage, summary: RecordingSummary) {
  return storage.load(summary.id).then((bytes) => {
    const recording = decodeRecordingFile(summary.id, bytes);
    const player = new Player(recording, views[summary.view], FIDELITY_KEY);
    assert.is(player.fidelity().identical, player.frameCount, `${summary.view}: every frame byte-identical`);
    const emails = recording.events.flatMap((e) => (e.kind === "event" && e.name === "validate" ? [(e.params as { email: string }).email] : []));
    return { recording, emails };
  });
}

for (const backend of backends) {
  const count = backend.name.startsWith("file") ? 3 : 2;
  (backend.skip ? test.skip : test)(`${backend.name}: ${count} instances, requests in turn: one whole recording per view`, async () => {
    const { env, storage } = await backend.open();
    const servers = await startInstances(count, env);
    try {
      const visitor = new Visitor(servers.map((s) => s.origin));
      await visitor.get("/signup");
      const email = "ada@lovelace.example";
      await typeEmail(visitor, email);
      await visitor.get("/todos");
      for (const title of ["milk", "eggs", "bread"]) await visitor.post("/todos", { title }, "add");
      assert.ok(new Set(visitor.served).size === count, "every instance served the session");
      // Live, through the store: every instance's dashboard shows the session's active recordings, whole.
      const ids = [...visitor.cookie("hono_replay")!.matchAll(/(?:SignupForm|TodoList)~([^~]+)~/g)].map((m) => m[1]);
      assert.is(ids.length, 2);
      // (Instances write a segment about once a second: within about two seconds.)
      const listedAt = Date.now();
      for (const server of servers) {
        await until(async () => {
          const page = await (await fetch(`${server.origin}/replay/`)).text();
          return ids.every((id) => page.includes(id));
        }, `${server.origin}'s dashboard to list ${ids.join(" and ")} as active`, 10_000);
        const live = await until(async () => {
          const html = await (await fetch(`${server.origin}/replay/r/${ids[0]}?t=3600000`)).text();
          return html.includes("value=&quot;ada@lovelace.example&quot;") && html;
        }, `${server.origin}'s player to show the last keystroke, whichever instance took it`, 10_000);
        assert.ok(live);
      }
      assert.ok(Date.now() - listedAt < 10_000);
      await visitor.leave();
      for (const server of servers) await stop(server, "SIGTERM");

      const items = await finalized(storage, 2);
      assert.equal(items.map((s) => s.view).sort(), ["SignupForm", "TodoList"], "one recording per view of the session");
      assert.is(new Set(items.map((s) => s.sessionKey)).size, 1, "one session");
      const signup = items.find((s) => s.view === "SignupForm")!;
      const { emails, recording } = await emailsOf(storage, signup);
      assert.equal(emails, visitor.sent.filter((s) => s.path === "/signup/validate").map((s) => s.form.email), "every keystroke, in order, once");
      assert.is(recording.events[0].kind, "mount");
      assert.is(recording.recovered, false);
      const todos = await emailsOf(storage, items.find((s) => s.view === "TodoList")!);
      assert.equal(todos.recording.events.filter((e) => e.kind === "event").map((e) => (e as { params: Record<string, unknown> }).params.title), ["milk", "eggs", "bread"]);
    } finally {
      await storage.close?.();
    }
  });
}

for (const backend of backends.filter((b) => !b.name.startsWith("Deno KV"))) {
  (backend.skip ? test.skip : test)(`${backend.name}: an instance killed with SIGKILL mid-session; the others carry the recording on`, async () => {
    const { env, storage } = await backend.open();
    const servers = await startInstances(3, env);
    try {
      const visitor = new Visitor(servers.map((s) => s.origin));
      await visitor.get("/signup");
      const email = "grace.hopper@navy.example";
      await typeEmail(visitor, email.slice(0, 12));
      const [killed, ...alive] = servers;
      await stop(killed, "SIGKILL");
      const killedAt = Date.now();
      // The same browser; the balancer now sends it to the survivors only.
      visitor.reroute(alive.map((s) => s.origin));
      await typeEmail(visitor, email, 12);
      await visitor.leave();
      for (const server of alive) await stop(server, "SIGTERM");

      // The killed instance's journal is recovered by whichever instance starts next on the store.
      const after = await startInstances(1, env);
      const items = await finalized(storage, 1);
      await stop(after[0], "SIGTERM");
      assert.equal(items.map((s) => s.view), ["SignupForm"], "one recording");
      const { emails } = await emailsOf(storage, items[0]);
      const sent = visitor.sent.filter((s) => s.path === "/signup/validate");
      const lostOnKill = sent.filter((s) => !emails.includes(s.form.email) && !(s.origin === killed.origin && s.at > killedAt - 1_000));
      assert.equal(lostOnKill, [], "lost at most what the killed instance got in its last second");
      assert.equal(emails, [...new Set(emails)], "nothing twice");
      assert.equal(emails, sent.map((s) => s.form.email).filter((e) => emails.includes(e)), "in order");
      console.log(`${backend.name}: ${emails.length} of ${sent.length} keystrokes after the kill`);
    } finally {
      await storage.close?.();
    }
  });
}

const unshare = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "true"]).status === 0;
(unshare ? test : test.skip)("two instances in separate PID namespaces on one directory: neither takes the other's live journal", async () => {
  const dir = temp("instances-pidns");
  // Two containers on one volume: each server is pid 1-ish in its own namespace.
  const wrap = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];
  const servers: ServerProcess[] = [];
  for (let i = 0; i < 2; i++) {
    const server = await fleet.start({ PORT: "0", REPLAY_DIR: dir, IDLE_TIMEOUT_MS: "60000" }, { wrap });
    servers.push(server);
  }
  const storage = fileStorage({ path: dir });
  try {
    const visitor = new Visitor(servers.map((s) => s.origin));
    await visitor.get("/signup");
    await typeEmail(visitor, "pid@namespace.example");
    const journals = () => readdirSync(join(dir, ".journal")).filter((n) => n.endsWith(".journal"));
    assert.is(journals().length, 2, "a journal per instance");
    const [nsA, nsB] = journals().map((n) => n.split("-")[0]);
    assert.ok(nsA !== nsB, "named by different PID namespaces");
    // Each instance scans for orphans at start and every few seconds (idle/4, at most 60 s): ask both to
    // write what they hold, then look again after a scan.
    for (const server of servers) await fetch(`${server.origin}/__test/flush`, { method: "POST" }).then((r) => r.body?.cancel());
    const before = journals();
    await until(async () => {
      const r = await fetch(`${servers[1].origin}/__test/maintain`, { method: "POST" });
      return r.ok && (await r.text()) === "done";
    }, "a maintenance pass");
    assert.equal(journals(), before, "both journals still belong to their live instances");
    const segments = await storage.listSegments();
    for (const s of await Promise.all([...new Set(segments.map((x) => x.recordingId))].map((id) => storage.loadSegments(id)))) {
      for (const seg of s) assert.not.match(seg.text, /\tv\t/, "nothing was recovered from a live journal");
    }
    for (const server of servers) await stop(server, "SIGKILL");
  } finally {
    await storage.close?.();
  }
});

// Deno only (Deno Deploy runs Deno): not registered on Node, rather than skipped.
if ("Deno" in globalThis) test("like Deno Deploy: Deno KV, no write permission but the database, SIGINT then SIGKILL after 5 s", async () => {
  const kvDir = temp("instances-deploy");
  const path = join(kvDir, "replay.kv");
  // No --allow-write but for the KV file: no journal, the engine in-process (no worker can open the KV elsewhere).
  const denoPermissions = ["--allow-net", "--allow-env", "--allow-read", `--allow-write=${kvDir}`, "--unstable-kv"];
  const servers: ServerProcess[] = [];
  for (let i = 0; i < 2; i++) {
    const server = await fleet.start({ PORT: "0", REPLAY_KV: path, IDLE_TIMEOUT_MS: "60000" }, { denoPermissions });
    servers.push(server);
  }
  const storage = denoKvStorage({ path });
  try {
    const visitor = new Visitor(servers.map((s) => s.origin));
    await visitor.get("/signup");
    const email = "deploy@isolate.example";
    await typeEmail(visitor, email);
    await visitor.leave();
    // Deno Deploy: SIGINT, and SIGKILL 5 s later if still running.
    for (const server of servers) {
      const killer = setTimeout(() => void server.kill("SIGKILL"), 5_000);
      process.kill(server.pid, "SIGINT");
      await server.exited;
      clearTimeout(killer);
      fleet.running.delete(server);
    }
    const items = await finalized(storage, 1);
    assert.equal(items.map((s) => s.view), ["SignupForm"]);
    const { emails } = await emailsOf(storage, items[0]);
    assert.equal(emails, visitor.sent.filter((s) => s.path === "/signup/validate").map((s) => s.form.email), "every keystroke, once, in order");
  } finally {
    await storage.close?.();
  }
});

test("instances that share only the store, no configured secret, accept each other's sessions", async () => {
  const dir = temp("instances-nosecret");
  const servers: ServerProcess[] = [];
  for (let i = 0; i < 2; i++) {
    // An empty HONO_REPLAY_SECRET is no secret: the store's shared one signs the session ids.
    const server = await fleet.start({ PORT: "0", REPLAY_DIR: dir, IDLE_TIMEOUT_MS: "3000", HONO_REPLAY_SECRET: "" });
    servers.push(server);
  }
  const storage = fileStorage({ path: dir });
  try {
    const visitor = new Visitor(servers.map((s) => s.origin));
    await visitor.get("/signup");
    const sid = visitor.cookie("hono_replay")!.split("!")[0];
    await typeEmail(visitor, "no@secret.example");
    assert.is(visitor.cookie("hono_replay")!.split("!")[0], sid, "one session id throughout: each instance verified the other's");
    await visitor.leave();
    for (const server of servers) await stop(server, "SIGTERM");
    const items = await finalized(storage, 1);
    assert.equal(items.map((s) => s.view), ["SignupForm"], "one recording, not one per instance");
    // (No configured key: frames the sanitizer took the password from are hashed with each process's own key, so
    // this process cannot verify them; the keystrokes are the point here.)
    const recording = decodeRecordingFile(items[0].id, await storage.load(items[0].id));
    const emails = recording.events.flatMap((e) => (e.kind === "event" && e.name === "validate" ? [(e.params as { email: string }).email] : []));
    assert.equal(emails, visitor.sent.filter((s) => s.path === "/signup/validate").map((s) => s.form.email));
  } finally {
    await storage.close?.();
  }
});

test.run();
