/**
 * Storage outage: the app records into a real PostgreSQL server that is
 * stopped in the middle of the run and started again. Frames that cannot reach
 * it wait in the journal, are retried with backoff, and are delivered once it
 * is back — by the running process, or by the next start when the process shut
 * down in between (its journal released for whoever starts next). None is
 * dropped, and every recording replays byte-identical.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { createReplay, type Replay, type ReplayEnv } from "../mod.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { postgresNotOwned, startPostgres, type TestPostgres } from "./support/postgres.ts";
import { testUnless } from "./support/skip.ts";
import { until } from "./faults_support.ts";

function Tally(props: { who: string; total: number; log: string[] }) {
  return h("section", null, h("h1", null, `${props.who}: ${props.total}`), h("ul", null, props.log.map((line) => h("li", null, line))));
}

/** A tally per session: each POST adds to it, POST /done ends the recording. */
function tallyApp(replay: Replay) {
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  const state = new Map<string, { total: number; log: string[] }>();
  const of = (who: string) => state.get(who) ?? state.set(who, { total: 0, log: [] }).get(who)!;
  app.get("/tally/:who", (c) => c.var.replay.render(Tally, { who: c.req.param("who"), ...of(c.req.param("who")) }));
  app.post("/tally/:who", async (c) => {
    const s = of(c.req.param("who"));
    const by = Number((await c.req.parseBody()).by);
    s.total += by;
    s.log = [...s.log, `+${by}`];
    return c.var.replay.render(Tally, { who: c.req.param("who"), total: s.total, log: s.log });
  });
  app.post("/done", (c) => {
    c.var.replay.end();
    return c.body(null, 204);
  });
  return app;
}

/** One visitor: opens the tally, adds `steps` times, leaves. Returns what each step served. */
async function visit(app: Hono<ReplayEnv>, who: string, steps: number, between?: () => Promise<void>): Promise<string[]> {
  const served: string[] = [];
  const first = await app.request(`/tally/${who}`);
  served.push(await first.text());
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  for (let i = 1; i <= steps; i++) {
    const res = await app.request(`/tally/${who}`, {
      method: "POST",
      headers: { cookie, "x-replay-event": "add" },
      body: new URLSearchParams({ by: String(i) }),
    });
    served.push(await res.text());
    if (i === 1) await between?.();
  }
  await app.request("/done", { method: "POST", headers: { cookie } });
  return served;
}

const skip = postgresNotOwned();
const outageTest = testUnless(skip, "the outage tests (they stop PostgreSQL)");
let pg: TestPostgres;
const journal = mkdtempSync(join(tmpdir(), "hono-replay-outage-"));
/** What the journal directory holds of a visit (its URL names the visitor). */
const journaled = (who: string) => readdirSync(journal).filter((n) => n.endsWith(".journal") && readFileSync(join(journal, n), "utf8").includes(`/tally/${who}`));
const table = "replay_outage";

test.before(async () => {
  if (!skip) pg = await startPostgres();
});
test.after(async () => {
  await pg?.close();
  rmSync(journal, { recursive: true, force: true });
});

const options = () => ({
  views: { Tally },
  storage: postgresStorage({ url: pg.url, table }),
  journal,
  persistenceRetryAttempts: 2,
  persistenceRetryDelayMs: 100,
  // Open visits left by a shutdown are finalized by the next start once this idle.
  idleTimeoutMs: 1_000,
});

/** Every stored recording replays to exactly the pages that were served. */
async function assertReplays(replay: Replay, served: Map<string, string[]>) {
  const summaries = await replay.store.listRecordingSummaries({ order: "asc" });
  assert.equal(summaries.map((s) => s.url.split("/").pop()).sort(), [...served.keys()].sort(), "every visit stored once");
  for (const summary of summaries) {
    const pages = served.get(summary.url.split("/").pop()!)!;
    const player = replay.player(await replay.store.getRecording(summary.id));
    assert.is(player.frameCount, pages.length, `${summary.url}: a frame per page`);
    for (let i = 0; i < pages.length; i++) assert.is(player.renderFrame(i).html, pages[i], `${summary.url} frame ${i}`);
    assert.is(summary.recovered, false);
  }
}

outageTest("PostgreSQL stopped mid-run: frames wait in the journal, are retried, and delivered when it is back", async () => {
  const replay = createReplay(options());
  const app = tallyApp(replay);
  const served = new Map<string, string[]>();
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "worker", "the worker opened PostgreSQL from the storage's spec");
    for (const who of ["ada", "grace"]) served.set(who, await visit(app, who, 3));
    await replay.flush();
    assert.is((await replay.store.listRecordingSummaries()).length, 2, "stored while the database is up");

    // A visit that starts while the database is up and ends while it is down.
    served.set("linus", await visit(app, "linus", 4, async () => pg.stop()));
    for (const who of ["edsger", "barbara", "donald"]) served.set(who, await visit(app, who, 2 + who.length % 3));
    const down = await replay.flush();
    assert.ok(down.saveFailures >= 4, `every recording was tried (${down.saveFailures} failures)`);
    assert.is(down.waitingForStorage, 4, "the four visits of the outage wait for the store");
    for (const who of ["linus", "edsger", "barbara", "donald"]) assert.ok(journaled(who).length, `${who}'s frames are on disk, in the journal`);
    let listing = "";
    await replay.store.listRecordingSummaries().catch((e) => (listing = String(e)));
    assert.ok(listing, "the database really is down");

    pg.start();
    // Nobody asks: the engine's own retry delivers them.
    await until(async () => (await replay.store.listRecordingSummaries()).length === 6, "the waiting recordings to arrive");
    assert.is((await replay.flush()).waitingForStorage, 0);
    await assertReplays(replay, served);
  } finally {
    await replay.close();
  }
});

outageTest("a process that shut down during the outage: the next start delivers what its journal held", async () => {
  const served = new Map<string, string[]>();
  const first = createReplay(options());
  const app = tallyApp(first);
  try {
    await first.ready;
    await first.store.clearAll();
    pg.stop();
    for (const who of ["alan", "margaret"]) served.set(who, await visit(app, who, 3));
    // A visit still open at shutdown: close() lets it go; the next start finalizes it once idle.
    const open = await app.request("/tally/frances");
    const cookie = open.headers.get("set-cookie")!.split(";")[0];
    const more = await app.request("/tally/frances", { method: "POST", headers: { cookie }, body: new URLSearchParams({ by: "7" }) });
    served.set("frances", [await open.text(), await more.text()]);
  } finally {
    await first.close();
  }
  const released = readdirSync(journal).filter((n) => n.startsWith("released-"));
  assert.is(released.length, 1, "the journal is released for the next start, not removed");
  for (const who of ["alan", "margaret", "frances"]) assert.ok(journaled(who).length, `${who} is in it`);

  pg.start();
  const second = createReplay(options());
  try {
    await until(async () => (await second.store.listRecordingSummaries()).length === 3, "the next start to deliver them");
    assert.equal(readdirSync(journal).filter((n) => n.startsWith("released-")), [], "the released journal is gone once delivered");
    await assertReplays(second, served);
  } finally {
    await second.close();
  }
});

test.run();
