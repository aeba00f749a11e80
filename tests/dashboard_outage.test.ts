/**
 * The dashboard while its storage is down: a real PostgreSQL server is stopped
 * and started again. While it is down every dashboard page answers 503 with a
 * plain page saying the storage is unavailable (no stack trace, no driver
 * message); once it is back the same pages answer 200 again by themselves,
 * with nothing restarted. The app's own pages keep answering 200 throughout.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { createReplay, type ReplayEnv } from "../mod.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { postgresNotOwned, startPostgres, type TestPostgres } from "./support/postgres.ts";
import { testUnless } from "./support/skip.ts";
import { waitFor } from "./support/wait.ts";

function Counter(props: { n: number }) {
  return h("p", null, `n = ${props.n}`);
}

const skip = postgresNotOwned();
const outageTest = testUnless(skip, "the dashboard outage test (it stops PostgreSQL)");
let pg: TestPostgres;
const journal = mkdtempSync(join(tmpdir(), "hono-replay-dash-outage-"));

test.before(async () => {
  if (!skip) pg = await startPostgres();
});
test.after(async () => {
  await pg?.close();
  rmSync(journal, { recursive: true, force: true });
});

outageTest("PostgreSQL stopped: the dashboard answers 503 'storage unavailable' without a stack trace, and recovers by itself", async () => {
  const replay = createReplay({
    views: { Counter },
    storage: postgresStorage({ url: pg.url, table: "replay_dash_outage" }),
    journal,
    persistenceRetryAttempts: 1,
    persistenceRetryDelayMs: 100,
  });
  const app = new Hono<ReplayEnv>();
  app.route("/replay", replay.dashboard({ authorize: () => true }));
  app.use(replay.recorder());
  let n = 0;
  app.get("/", (c) => c.var.replay.render(Counter, { n }));
  app.post("/", (c) => c.var.replay.render(Counter, { n: ++n }));
  app.post("/done", (c) => (c.var.replay.end(), c.body(null, 204)));
  const quiet = console.error;
  const logged: string[] = [];
  try {
    const first = await app.request("/");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    await app.request("/", { method: "POST", headers: { cookie } });
    await app.request("/done", { method: "POST", headers: { cookie } });
    await waitFor(async () => (await replay.flush(), (await replay.store.listRecordingSummaries()).length === 1), "the recording", 60_000, 100);
    const [summary] = await replay.store.listRecordingSummaries();
    // The player is not opened before the outage: a finalized recording once opened is served from memory.
    const pages = ["/replay/", `/replay/r/${summary.id}`, "/replay/clear"];
    for (const path of ["/replay/", "/replay/clear"]) assert.is((await app.request(path)).status, 200, path);

    pg.stop();
    console.error = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
    for (const path of [...pages, `/replay/r/${summary.id}/frames`]) {
      const res = await app.request(path);
      assert.is(res.status, 503, path);
      assert.is(res.headers.get("retry-after"), "5");
      const body = await res.text();
      if (!path.endsWith("/frames")) assert.match(body, "storage is unavailable", path);
      assert.not.match(body, /\n\s+at |ECONNREFUSED|postgres/i, `${path}: nothing about the internals`);
    }
    assert.is(logged.filter((l) => l.includes("storage is unavailable")).length, 1, "logged once per outage, with the cause");
    // The app itself keeps serving (its frames wait in the journal).
    const during = await app.request("/");
    assert.is(during.status, 200);

    pg.start();
    await waitFor(async () => (await app.request("/replay/")).status === 200, "the dashboard to recover", 60_000, 100);
    for (const path of pages) assert.is((await app.request(path)).status, 200, `${path} after the outage`);
    assert.match(await (await app.request("/replay/")).text(), summary.id);
  } finally {
    console.error = quiet;
    await replay.close();
  }
});

test.run();
