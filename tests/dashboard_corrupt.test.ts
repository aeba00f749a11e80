/**
 * Corrupt recordings on the dashboard (issue #14), made for real: recordings
 * recorded through the demo app into file storage, then their `.hrp` files
 * truncated or emptied on disk, and a rebuilt index that leaves them out. The
 * index lists them in a "Corrupt recordings" section with the reason, their
 * page says they are corrupt and offers the delete, and the delete (the
 * dashboard's CSRF-protected POST) removes the file from disk. Before the
 * files are damaged the same recordings are listed as ordinary ones (the
 * positive control). Also: the store's download and its logger, which the
 * dashboard uses instead of reaching around the store (#15).
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { fileStorage, type Logger, type Replay, ReplayStore } from "../mod.ts";
import { RecordingNotFoundError } from "../format/mod.ts";
import { createDashboard, type DashboardOptions } from "../dashboard/mod.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { finalized, recordSignup } from "./support/demo_visits.ts";

type Fetcher = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

function dashboardApp(replay: Replay, options: DashboardOptions = { authorize: () => true }) {
  const app = new Hono();
  app.route("/replay", createDashboard(replay, options));
  return app;
}

/** Three recordings made through the demo app into file storage, and where each one's file is. */
async function threeRecordings() {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-dash-corrupt-"));
  const { app: demo, replay } = createDemoApp({ storage: fileStorage({ path: dir }), worker: false, beaconGraceMs: 0 });
  for (const name of ["Ada", "Bob", "Cy"]) await recordSignup(demo, name);
  const list = await finalized(replay, 3);
  const file = (id: string) => join(dir, "recordings", `${id}.hrp`);
  return { dir, replay, list, file };
}

/** The index's "Corrupt recordings" section: each row's id and reason; undefined when there is none. */
function corruptSection(html: string): { id: string; reason: string; size: string }[] | undefined {
  const section = html.match(/<section class="card" id="corrupt">[\s\S]*?<\/section>/)?.[0];
  if (!section) return undefined;
  return [...section.matchAll(/<tr data-corrupt-id="([^"]+)">[\s\S]*?<td class="reason">([^<]*)<\/td><td class="num">([^<]*)<\/td>/g)]
    .map(([, id, reason, size]) => ({ id, reason, size }));
}

/** What a browser does with a delete form of the index: posts it, same-origin, with the form's token and cookie. */
async function deleteFrom(app: Fetcher, id: string) {
  const index = await app.request("/replay/");
  const cookie = index.headers.get("set-cookie")!.split(";")[0];
  const html = await index.text();
  const form = html.match(new RegExp(`<tr data-corrupt-id="${id}">[\\s\\S]*?<form method="post" action="([^"]+)"[\\s\\S]*?name="_csrf" value="([^"]+)"`));
  assert.ok(form, `the corrupt section offers to delete ${id}`);
  return app.request(form![1], {
    method: "POST",
    body: new URLSearchParams({ _csrf: form![2], back: "" }),
    headers: { "content-type": "application/x-www-form-urlencoded", cookie, "sec-fetch-site": "same-origin" },
  });
}

const sorted = (ids: string[]) => [...ids].sort();

test("truncated and emptied files: listed as corrupt with the reason (ordinary recordings before), their page offers the delete, and it removes the file", async () => {
  const { dir, replay, list, file } = await threeRecordings();
  try {
    const [truncated, empty, fine] = list;
    const app = dashboardApp(replay);
    // Positive control: intact, all three are ordinary recordings, and nothing is listed as corrupt.
    const before = await (await app.request("/replay/")).text();
    for (const r of list) assert.match(before, `<tr data-id="${r.id}">`);
    assert.is(corruptSection(before), undefined, "no corrupt section while every file reads");
    assert.not.match(before, "status-corrupt");
    const download = await app.request(`/replay/r/${truncated.id}/download`);
    assert.is(download.status, 200);
    assert.equal(new Uint8Array(await download.arrayBuffer()), new Uint8Array(readFileSync(file(truncated.id))), "the download is the stored file");

    truncateSync(file(truncated.id), 7);
    writeFileSync(file(empty.id), new Uint8Array(0));

    // Listed on the index without anyone opening them first.
    const html = await (await app.request("/replay/")).text();
    const rows = corruptSection(html);
    assert.ok(rows, "a corrupt section");
    assert.equal(sorted(rows!.map((r) => r.id)), sorted([truncated.id, empty.id]));
    for (const row of rows!) {
      assert.match(row.reason, `recording ${row.id} is corrupt (`, "the reason names it and says what is wrong");
      assert.match(row.reason, "delete it or restore it from a backup", "and what to do");
    }
    assert.is(rows!.find((r) => r.id === truncated.id)!.size, "7 B");
    assert.is(rows!.find((r) => r.id === empty.id)!.size, "0 B");
    assert.is((html.match(/class="status status-corrupt"/g) ?? []).length, 2, "their rows in the table say corrupt too");
    assert.not.match(html, `data-fidelity-pending="${truncated.id}"`, "no fidelity to compute for a file that cannot be read");

    // Their page: a plain error page saying so, with the delete; never a 500.
    for (const id of [truncated.id, empty.id]) {
      const page = await app.request(`/replay/r/${id}`);
      assert.is(page.status, 422, id);
      const text = await page.text();
      assert.match(text, "Corrupt recording");
      assert.match(text, `recording ${id} is corrupt (`);
      assert.match(text, `action="/replay/r/${id}/delete"`);
    }

    // The delete is the protected POST: without the form's token nothing is removed.
    const forged = await app.request(`/replay/r/${truncated.id}/delete`, {
      method: "POST",
      body: new URLSearchParams({ _csrf: "x".repeat(64) }),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
    });
    assert.is(forged.status, 403);
    assert.ok(existsSync(file(truncated.id)), "a forged delete removes nothing");

    for (const id of [truncated.id, empty.id]) {
      const res = await deleteFrom(app, id);
      assert.is(res.status, 303, `delete ${id}`);
      assert.match(res.headers.get("location")!, "notice=deleted");
      assert.not.ok(existsSync(file(id)), `${id}'s file is gone from disk`);
    }
    const after = await (await app.request("/replay/")).text();
    assert.is(corruptSection(after), undefined);
    assert.match(after, `<tr data-id="${fine.id}">`);
    assert.ok(existsSync(file(fine.id)), "the intact recording stays");
    assert.instance(await replay.store.getRecordingFile(truncated.id).catch((e) => e), RecordingNotFoundError);
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a corrupt file the rebuilt index left out: only the corrupt section lists it, its page offers the delete, and the delete removes it", async () => {
  const { dir, replay, list, file } = await threeRecordings();
  try {
    const [leftOut, , fine] = list;
    const app = dashboardApp(replay);
    truncateSync(file(leftOut.id), 20);
    rmSync(join(dir, "index.json"));
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" ")); // file storage reports each file the rebuild leaves out
    let html: string;
    try {
      html = await (await app.request("/replay/")).text();
    } finally {
      console.warn = warn;
    }
    assert.ok(warnings.some((w) => w.includes(leftOut.id)), "the rebuild left it out, loudly");
    assert.not.match(html, `<tr data-id="${leftOut.id}">`, "not in the table: the index does not list it");
    assert.match(html, `<tr data-id="${fine.id}">`);
    assert.equal(corruptSection(html)!.map((r) => r.id), [leftOut.id], "but listed as corrupt");

    const page = await app.request(`/replay/r/${leftOut.id}`);
    assert.is(page.status, 422);
    assert.match(await page.text(), `action="/replay/r/${leftOut.id}/delete"`);

    assert.is((await deleteFrom(app, leftOut.id)).status, 303);
    assert.not.ok(existsSync(file(leftOut.id)), "its file is gone from disk");
    assert.is(corruptSection(await (await app.request("/replay/")).text()), undefined);
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the store's logger: listRecordings reports a corrupt recording it skips through it; the dashboard logs through the replay's unless given its own", async () => {
  const { dir, replay, list, file } = await threeRecordings();
  try {
    const logged: string[] = [];
    const logger: Logger = { warn: (m) => void logged.push(`warn ${m}`), error: (m) => void logged.push(`error ${m}`) };
    const store = new ReplayStore(replay.store.storage, () => Promise.reject(new Error("no engine in this test")), { maxRecordings: 100, maxRecordingAgeMs: 1e12 }, { logger });
    assert.is(store.logger, logger);
    assert.is((await store.listRecordings()).length, 3, "positive control: nothing skipped while every file reads");
    assert.equal(logged, []);
    writeFileSync(file(list[0].id), new Uint8Array(0));
    assert.is((await store.listRecordings()).length, 2);
    assert.equal(logged, [`warn recording ${list[0].id} is corrupt (not a hono-replay recording file); delete it or restore it from a backup`]);

    // A dashboard over that store, whose authorize throws: the refusal is explained through the store's logger.
    logged.length = 0;
    const throwing = () => {
      throw new Error("session store down");
    };
    const doubled = { store, views: replay.views, player: replay.player.bind(replay), engine: replay.engine };
    const viaStore = new Hono().route("/replay", createDashboard(doubled, { authorize: throwing }));
    assert.is((await viaStore.request("/replay/")).status, 403);
    assert.equal(logged, ["warn dashboard: authorize threw, so the request is refused (session store down)"]);
    // Its own logger wins.
    const own: string[] = [];
    const viaOwn = new Hono().route("/replay", createDashboard(doubled, { authorize: throwing, logger: { warn: (m) => void own.push(m), error: (m) => void own.push(m) } }));
    assert.is((await viaOwn.request("/replay/")).status, 403);
    assert.is(own.length, 1);
    assert.is(logged.length, 1, "nothing more through the store's");
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
