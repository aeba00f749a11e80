/**
 * postgresStorage against a real PostgreSQL server (a throwaway one, or
 * DATABASE_URL): the conformance suite through two connections, then what
 * only this backend promises — the migration is idempotent and safe to run at
 * once (and adds the segment tables to a database made before them), listing
 * never reads `data`, listing segments never reads their text, filters and
 * sorting run on indexes, a claim race among many connections has one winner,
 * and corruption is real damage to the stored bytea.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import postgres from "postgres";
import { type PostgresStorage, postgresMigrationSql, postgresStorage } from "./postgres.ts";
import { damaged, fixtureRecording, storageConformance } from "./conformance.ts";
import { runWithUvu } from "../tests/support/conformance_uvu.ts";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../tests/support/postgres.ts";

// Tables of our own, so a shared DATABASE_URL server is not disturbed.
const table = `replay_test_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
const extra = `${table}_extra`;
const skip = postgresUnavailable();

let server: Promise<TestPostgres> | undefined;
const pg = () => (server ??= startPostgres());
let admin: ReturnType<typeof postgres>;
const sql = async () => (admin ??= postgres((await pg()).url, { onnotice: () => {}, max: 2 }));

if (skip) {
  console.log(`postgres storage tests skipped: ${skip}`);
  test.skip("postgres storage: conformance and PostgreSQL-specific tests (no PostgreSQL)");
} else {
  runWithUvu(storageConformance({
    name: "postgres",
    open: async () => postgresStorage({ url: (await pg()).url, table }),
    openAnother: async () => postgresStorage({ url: (await pg()).url, table }),
    async corrupt(_storage, id, bytes) {
      const db = await sql();
      await db`UPDATE ${db(table)} SET data = ${damaged(bytes)} WHERE id = ${id}`;
    },
  }));

  let storage: PostgresStorage;
  test.before(async () => {
    storage = postgresStorage({ url: (await pg()).url, table: extra });
  });
  test.after(async () => {
    await storage.close();
    const db = await sql();
    for (const t of [table, extra]) {
      for (const suffix of ["", "_segments", "_claims", "_erasures"]) await db`DROP TABLE IF EXISTS ${db(t + suffix)}`;
    }
    await db.end({ timeout: 5 });
    await (await pg()).close();
  });

  test("migrate() creates the table and its indexes; running it again, from several instances at once, is harmless", async () => {
    const db = await sql();
    const url = (await pg()).url;
    const racers = Array.from({ length: 4 }, () => postgresStorage({ url, table: extra, migrate: false }));
    await Promise.all(racers.map((s) => s.migrate()));
    await storage.migrate();
    const indexes = await db<{ indexname: string }[]>`SELECT indexname FROM pg_indexes WHERE tablename = ${extra}`;
    assert.equal(indexes.map((i) => i.indexname.slice(`${extra}_`.length)).sort(), [
      "duration_ms",
      "event_count",
      "event_names",
      "pkey",
      "session_key",
      "size_bytes",
      "started_at",
      "view_started_at",
    ]);
    for (const s of racers) await s.close();
    const [{ segments, claims, erasures }] = await db`SELECT to_regclass(${extra + "_segments"}) IS NOT NULL AS segments, to_regclass(${extra + "_claims"}) IS NOT NULL AS claims, to_regclass(${extra + "_erasures"}) IS NOT NULL AS erasures`;
    assert.ok(segments && claims && erasures, "the segments, claims and erasures tables are there");
    assert.match(postgresMigrationSql(), 'CREATE TABLE IF NOT EXISTS "replay_recordings"');
    assert.match(postgresMigrationSql(), 'CREATE TABLE IF NOT EXISTS "replay_recordings_segments"');
    assert.match(postgresMigrationSql("s.r"), 'CREATE TABLE IF NOT EXISTS "s"."r_claims"');
    assert.throws(() => postgresStorage({ url, table: "x; DROP TABLE y" }), /plain name/);
  });

  test("a database migrated before segments and erasure existed gets their tables and index, and keeps its recordings", async () => {
    const db = await sql();
    const url = (await pg()).url;
    const f = fixtureRecording({ id: "0pg-before-segments", startedAt: Date.UTC(2026, 0, 1) });
    await storage.save(f.summary, f.bytes);
    await db`DROP TABLE ${db(extra + "_segments")}`;
    await db`DROP TABLE ${db(extra + "_claims")}`;
    await db`DROP TABLE ${db(extra + "_erasures")}`;
    await db`DROP INDEX ${db(extra + "_session_key")}`;
    const upgraded = postgresStorage({ url, table: extra });
    try {
      await upgraded.appendSegment({ recordingId: "0pg-upgraded", key: "i1-000001", lastAt: 1, text: "frames" });
      const mark = { id: "0pg-upgraded-mark", at: 1, until: Date.now() + 60_000, sessionKey: "k" };
      await upgraded.addErasure(mark);
      assert.equal(await upgraded.listErasures(), [mark]);
      assert.is((await upgraded.list({ sessionKey: f.summary.sessionKey })).items.length, 1, "listed by its session");
      assert.is(await upgraded.claim("0pg-upgraded", "instance-a", 60_000), true);
      assert.equal((await upgraded.loadSegments("0pg-upgraded")).map((s) => s.text), ["frames"]);
      assert.equal([...(await upgraded.load(f.summary.id))], [...f.bytes], "the old recording is still there");
    } finally {
      await upgraded.close();
    }
  });

  test("segments: listing selects no text; text with any character (U+0000 too) survives; a claim race among 6 connections has one winner", async () => {
    const url = (await pg()).url;
    await storage.clear();
    const odd = "a\u0000b\t\n\u{1F600}\uFFFF" + "é".repeat(70_000);
    await storage.appendSegment({ recordingId: "0pg-seg", key: "i1-000001", lastAt: 1_700_000_000_123.5, text: odd });
    const [loaded] = await storage.loadSegments("0pg-seg");
    assert.is(loaded.text, odd);
    assert.is(loaded.lastAt, 1_700_000_000_123.5);

    const seen: string[] = [];
    const spy = postgresStorage({ url, table: extra, connection: { debug: (_c: number, query: string) => seen.push(query) } });
    const racers = Array.from({ length: 6 }, () => postgresStorage({ url, table: extra }));
    try {
      await spy.listSegments(); // connects and migrates
      seen.length = 0;
      assert.equal(await spy.listSegments(), [{ recordingId: "0pg-seg", key: "i1-000001", lastAt: 1_700_000_000_123.5 }]);
      assert.is(seen.length, 1);
      assert.not.match(seen[0], /text_utf8/, "no text in a segment listing");

      for (let round = 0; round < 5; round++) {
        const won = await Promise.all(racers.map((r, i) => r.claim(`0pg-race-${round}`, `instance-${i}`, 60_000)));
        assert.is(won.filter(Boolean).length, 1, `round ${round}: ${won}`);
      }

      // cleanup() takes what is left of the recordings it erases, as delete() does.
      const old = fixtureRecording({ id: "0pg-old", startedAt: Date.UTC(2020, 0, 1) });
      await storage.save(old.summary, old.bytes);
      await storage.appendSegment({ recordingId: "0pg-old", key: "i1-000001", lastAt: 1, text: "late frames" });
      assert.is(await storage.claim("0pg-old", "instance-a", 60_000), true);
      assert.equal(await storage.cleanup({ maxRecordings: 100, maxAgeMs: 24 * 3600_000 }), ["0pg-old"]);
      assert.equal(await storage.loadSegments("0pg-old"), []);
      assert.is(await racers[0].claim("0pg-old", "instance-b", 60_000), true, "its claim went too");
    } finally {
      await spy.close();
      for (const r of racers) await r.close();
    }
  });

  test("a stored erasure mark that cannot be read is skipped and reported once, to the logger in the options", async () => {
    const db = await sql();
    const messages: string[] = [];
    const logged = postgresStorage({ url: (await pg()).url, table: extra, logger: { warn: (m) => void messages.push(m), error: (m) => void messages.push(m) } });
    try {
      const until = Date.now() + 3_600_000;
      await logged.addErasure({ id: "0pg-mark", at: Date.now(), until, recordingId: "0pg-erased" });
      await db`INSERT INTO ${db(extra + "_erasures")} (id, body, until) VALUES ('0pg-junk', 'not a mark', ${new Date(until)})`;
      const first = (await logged.listErasures()).map((e) => e.id);
      assert.ok(first.includes("0pg-mark"), "the good mark is listed");
      assert.not.ok(first.includes("0pg-junk"), "the junk row is not");
      await logged.listErasures();
      assert.is(messages.length, 1, messages.join("\n"));
      assert.match(messages[0], /"0pg-junk".*is not an erasure mark/);
    } finally {
      await db`DELETE FROM ${db(extra + "_erasures")}`;
      await logged.close();
    }
  });

  test("with migrate: false nothing is created; a schema-qualified table works", async () => {
    const db = await sql();
    const url = (await pg()).url;
    const unmigrated = postgresStorage({ url, table: "replay_never_created", migrate: false });
    try {
      let failed = false;
      await unmigrated.list().catch(() => (failed = true));
      assert.ok(failed, "listing a table nobody created fails");
      const [{ n }] = await db`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'replay_never_created'`;
      assert.is(n, 0);
    } finally {
      await unmigrated.close();
    }
    await db`CREATE SCHEMA IF NOT EXISTS replay_schema_test`;
    const qualified = postgresStorage({ url, table: "replay_schema_test.recordings" });
    try {
      const f = fixtureRecording({ id: "0pg-schema", startedAt: Date.UTC(2026, 0, 1) });
      await qualified.save(f.summary, f.bytes);
      assert.equal((await qualified.list()).items, [f.summary]);
      const [row] = await db`SELECT count(*)::int AS n FROM replay_schema_test.recordings`;
      assert.is(row.n, 1);
      await qualified.appendSegment({ recordingId: f.summary.id, key: "i1-000001", lastAt: 1, text: "frames" });
      assert.is(await qualified.claim(f.summary.id, "instance-a", 60_000), true);
      const [segs] = await db`SELECT count(*)::int AS n FROM replay_schema_test.recordings_segments`;
      assert.is(segs.n, 1);
      assert.is(await qualified.delete(f.summary.id), true);
      const [left] = await db`SELECT (SELECT count(*) FROM replay_schema_test.recordings_segments)::int
                                   + (SELECT count(*) FROM replay_schema_test.recordings_claims)::int AS n`;
      assert.is(left.n, 0, "delete took the segments and the claim too");
    } finally {
      await qualified.close();
      await db`DROP SCHEMA replay_schema_test CASCADE`;
    }
  });

  test("list() reads no recording data, and its filters and sorts run on the indexes", async () => {
    const db = await sql();
    const t0 = Date.UTC(2026, 0, 1);
    await storage.clear();
    for (let i = 0; i < 300; i++) {
      const f = fixtureRecording({
        id: `0pg-${String(i).padStart(3, "0")}`,
        view: i % 30 ? "TodoList" : "SignupForm",
        startedAt: t0 + i * 1000,
        eventNames: [i % 10 ? "add" : "submit"],
      });
      await storage.save(f.summary, f.bytes);
    }
    await db`ANALYZE ${db(extra)}`;
    // The queries list() sends, with their parameters, to EXPLAIN them as they ran.
    const seen: { query: string; parameters: unknown[] }[] = [];
    const spy = postgresStorage({
      url: (await pg()).url,
      table: extra,
      connection: { debug: (_connection: number, query: string, parameters: unknown[]) => seen.push({ query, parameters }) },
    });
    const listQuery = async (filter: Parameters<PostgresStorage["list"]>[0]) => {
      seen.length = 0;
      const page = await spy.list(filter);
      const lists = seen.filter((q) => /^\s*SELECT/i.test(q.query) && q.query.includes(extra));
      assert.is(lists.length, 1, "one query per list()");
      assert.not.match(lists[0].query, /\bdata\b/, "no data column in a list query");
      const plan = await db.begin(async (tx) => {
        // On a table this small the planner would rightly scan it whole; make it show the index it would use.
        await tx`SET LOCAL enable_seqscan = off`;
        return tx.unsafe(`EXPLAIN ${lists[0].query}`, lists[0].parameters as never[]);
      });
      return { page, query: lists[0].query, plan: plan.map((r) => r["QUERY PLAN"]).join("\n") };
    };
    try {
      await spy.list({ limit: 1 }); // connects and migrates
      const byView = await listQuery({ view: "SignupForm", limit: 5 });
      assert.equal(byView.page.items.map((s) => s.id), ["0pg-270", "0pg-240", "0pg-210", "0pg-180", "0pg-150"]);
      assert.match(byView.query, /view = \$1/);
      assert.match(byView.plan, /Index Scan Backward using "?\w+_view_started_at/);
      assert.not.match(byView.plan, /Sort/, "the index gives the order");

      const older = await listQuery({ limit: 2, cursor: `${t0 + 100_000}.0pg-100` });
      assert.equal(older.page.items.map((s) => s.id), ["0pg-099", "0pg-098"]);
      assert.match(older.plan, /Index Scan Backward using "?\w+_started_at/);

      const named = await listQuery({ eventName: "submit", order: "asc" });
      assert.is(named.page.items.length, 30);
      assert.match(named.plan, /Bitmap Index Scan on "?\w+_event_names/);

      const shortest = await listQuery({ sort: "durationMs", order: "asc", limit: 3 });
      assert.match(shortest.plan, /Index Scan using "?\w+_duration_ms/);
      const busiest = await listQuery({ sort: "eventCount", limit: 3 });
      assert.match(busiest.plan, /Index Scan Backward using "?\w+_event_count/);
      const biggest = await listQuery({ sort: "sizeBytes", limit: 3 });
      assert.match(biggest.plan, /Index Scan Backward using "?\w+_size_bytes/);
    } finally {
      await spy.close();
    }
  });
}

test.run();
