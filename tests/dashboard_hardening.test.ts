/**
 * The dashboard's edges (issue #14): configuration errors refused at creation,
 * authorize asked by assets and the 404 page, unknown and forbidden recording
 * ids indistinguishable, destructive POSTs bound to this origin and to a token
 * only this server can compute, and corrupt recordings (real truncated and
 * empty `.hrp` files in file storage) shown as corrupt, deletable, and never a
 * 500. Everything goes through `app.request()` against real storage.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { createReplay, fileStorage, memoryStorage, type Replay } from "../mod.ts";
import { createDashboard, type DashboardOptions } from "../dashboard/mod.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { finalized, recordSignup } from "./support/demo_visits.ts";

type Fetcher = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

function dashboardApp(replay: Replay, options: DashboardOptions) {
  const app = new Hono();
  app.route("/replay", createDashboard(replay, options));
  return app;
}

function post(app: Fetcher, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.request(path, {
    method: "POST",
    body: new URLSearchParams(form),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

async function csrf(app: Fetcher, path = "/replay/", headers: Record<string, string> = {}) {
  const res = await app.request(path, { headers });
  const cookie = headers.cookie ?? res.headers.get("set-cookie")!.split(";")[0];
  const token = (await res.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  return { cookie, nonce: cookie.split("=")[1], token };
}

test("authorize together with dangerouslyAllowOpenAccess is refused at creation, saying which to remove", async () => {
  const replay = createReplay({ views: { A: () => null }, storage: memoryStorage(), worker: false });
  try {
    assert.throws(
      () => replay.dashboard({ authorize: () => true, dangerouslyAllowOpenAccess: true }),
      (e: Error) => e instanceof TypeError && /both given/.test(e.message) && /Remove `dangerouslyAllowOpenAccess`/.test(e.message),
    );
    assert.throws(() => replay.dashboard({ authorize: () => true, csrfSecret: "short" }), /at least 32 characters/);
  } finally {
    await replay.close();
  }
});

test("assets and the 404 page ask authorize; refused is 403 and reveals nothing", async () => {
  const replay = createReplay({ views: { A: () => null }, storage: memoryStorage(), worker: false });
  try {
    const asked: string[] = [];
    const app = dashboardApp(replay, { authorize: (c) => (asked.push(c.req.path), c.req.header("x-role") === "admin") });
    const html = await (await app.request("/replay/", { headers: { "x-role": "admin" } })).text();
    const assets = [...html.matchAll(/(?:href|src)="(\/replay\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 2, "the index links its stylesheet and script");
    for (const path of [...assets, "/replay/no/such/page", "/replay/assets/client-0000.js"]) {
      asked.length = 0;
      const res = await app.request(path);
      assert.is(res.status, 403, path);
      assert.equal(asked, [path], `${path} asked authorize`);
      assert.not.match(await res.text(), "Nothing at", `${path}: no 404 page for outsiders`);
    }
    for (const path of assets) {
      const res = await app.request(path, { headers: { "x-role": "admin" } });
      assert.is(res.status, 200, path);
      assert.match(res.headers.get("cache-control")!, /^private/, "never in a shared cache");
    }
    assert.is((await app.request("/replay/no/such/page", { headers: { "x-role": "admin" } })).status, 404);
  } finally {
    await replay.close();
  }
});

test("a recording the caller may not see answers exactly as one that does not exist", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await recordSignup(demo, "Ada");
    const [secret] = await finalized(replay, 1);
    const unknown = "0zzzzzzz-no-such-recording";
    // A dashboard user who may not see this recording, and an outsider.
    const app = dashboardApp(replay, { authorize: (c, r) => c.req.header("x-role") === "staff" && r?.id !== secret.id });
    for (const headers of [{ "x-role": "staff" }, {}] as Record<string, string>[]) {
      for (const suffix of ["", "/frames", "/live", "/download", "/export"]) {
        const a = await app.request(`/replay/r/${secret.id}${suffix}`, { headers });
        const b = await app.request(`/replay/r/${unknown}${suffix}`, { headers });
        assert.is(a.status, b.status, `${suffix} ${JSON.stringify(headers)}`);
        assert.is(a.status, "x-role" in headers ? 404 : 403);
        assert.is((await a.text()).replaceAll(secret.id, "ID"), (await b.text()).replaceAll(unknown, "ID"), `${suffix}: same body`);
      }
      const a = await post(app, `/replay/r/${secret.id}/delete`, {}, headers);
      const b = await post(app, `/replay/r/${unknown}/delete`, {}, headers);
      assert.is(a.status, b.status);
    }
    assert.is((await replay.store.listRecordingSummaries()).length, 1, "nothing deleted");
  } finally {
    await replay.close();
  }
});

test("destructive POSTs: Origin compared with the scheme, Sec-Fetch-Site, and a token the client cannot plant", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await recordSignup(demo, "Ada");
    await recordSignup(demo, "Bob");
    const [a, b] = await finalized(replay, 2);
    const app = dashboardApp(replay, { authorize: () => true });
    const { cookie, nonce, token } = await csrf(app, "http://dash.example/replay/");
    assert.match(token, /^[a-f0-9]{64}$/, "the token is an HMAC, not the cookie's value");
    assert.is.not(token, nonce);
    const url = `http://dash.example/replay/r/${a.id}/delete`;
    const refused = async (form: Record<string, string>, headers: Record<string, string>, why: string) =>
      assert.is((await post(app, url, form, headers)).status, 403, why);

    await refused({ _csrf: token }, { cookie }, "neither Origin nor Sec-Fetch-Site");
    await refused({ _csrf: token }, { cookie, origin: "https://dash.example" }, "same host, other scheme");
    await refused({ _csrf: token }, { cookie, origin: "http://dash.example:8080" }, "same host, other port");
    await refused({ _csrf: token }, { cookie, origin: "null" }, "an opaque origin");
    await refused({ _csrf: token }, { cookie, origin: "http://dash.example", "sec-fetch-site": "same-site" }, "the browser says same-site");
    // A planted cookie (a sibling subdomain can set one) with a token of the attacker's choosing.
    const planted = "a".repeat(32);
    await refused({ _csrf: planted }, { cookie: `hono_replay_csrf=${planted}`, origin: "http://dash.example" }, "planted double submit");
    // Another server (another secret) signs differently.
    const other = dashboardApp(replay, { authorize: () => true, csrfSecret: "x".repeat(40) });
    const foreign = await csrf(other, "http://dash.example/replay/", { cookie });
    assert.is.not(foreign.token, token, "the same nonce signs differently under another secret");
    await refused({ _csrf: foreign.token }, { cookie, origin: "http://dash.example" }, "a token from another server");
    assert.is((await replay.store.listRecordingSummaries()).length, 2, "nothing deleted so far");

    assert.is((await post(app, url, { _csrf: token }, { cookie, origin: "http://dash.example" })).status, 303, "Origin alone");
    const second = await post(app, `http://dash.example/replay/r/${b.id}/delete`, { _csrf: token }, { cookie, "sec-fetch-site": "same-origin" });
    assert.is(second.status, 303, "Sec-Fetch-Site alone");
    assert.is((await replay.store.listRecordingSummaries()).length, 0);

    // Behind a TLS-terminating proxy: the public origin is configured.
    const proxied = dashboardApp(replay, { authorize: () => true, origin: "https://admin.example" });
    const p = await csrf(proxied, "http://internal:3000/replay/clear");
    const cleared = await post(proxied, "http://internal:3000/replay/clear", { _csrf: p.token }, { cookie: p.cookie, origin: "https://admin.example" });
    assert.is(cleared.status, 303);
  } finally {
    await replay.close();
  }
});

test("file storage: truncated and empty .hrp files are listed as corrupt with the reason, never a 500, and deletable", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-corrupt-"));
  const { app: demo, replay } = createDemoApp({ storage: fileStorage({ path: dir }), worker: false, beaconGraceMs: 0 });
  try {
    for (const name of ["Ada", "Bob", "Cy"]) await recordSignup(demo, name);
    const list = await finalized(replay, 3);
    const [truncated, empty, fine] = list;
    const file = (id: string) => join(dir, "recordings", `${id}.hrp`);
    truncateSync(file(truncated.id), 7);
    writeFileSync(file(empty.id), new Uint8Array(0));
    const app = dashboardApp(replay, { authorize: () => true });

    for (const id of [truncated.id, empty.id]) {
      for (const suffix of ["", "/frames", "/download", "/export", "/live"]) {
        const res = await app.request(`/replay/r/${id}${suffix}`);
        assert.ok(res.status < 500, `${id}${suffix}: ${res.status}`);
        await res.body?.cancel();
      }
      const page = await app.request(`/replay/r/${id}`);
      assert.is(page.status, 422);
      const html = await page.text();
      assert.match(html, "is corrupt (");
      assert.match(html, `action="/replay/r/${id}/delete"`, "the page offers to delete it");
      assert.not.match(html, /\n\s+at /, "no stack trace");
    }
    const fidelity = await (await app.request(`/replay/fidelity?ids=${truncated.id},${empty.id},${fine.id}`)).json();
    assert.is(fidelity[truncated.id].label, "corrupt");
    assert.match(fidelity[empty.id].title, "is corrupt");
    assert.is.not(fidelity[fine.id].label, "corrupt");
    const index = await app.request("/replay/");
    assert.is(index.status, 200);
    const html = await index.text();
    assert.is((html.match(/class="status status-corrupt"/g) ?? []).length, 2, "both listed as corrupt");
    assert.match(html, /status-corrupt" title="recording [^"]+ is corrupt \(/, "with the reason");

    const { cookie, token } = await csrf(app);
    for (const id of [truncated.id, empty.id]) {
      const res = await post(app, `/replay/r/${id}/delete`, { _csrf: token }, { cookie, "sec-fetch-site": "same-origin" });
      assert.is(res.status, 303, `delete ${id}`);
    }
    assert.equal((await replay.store.listRecordingSummaries()).map((s) => s.id), [fine.id]);
    assert.equal(readdirSync(join(dir, "recordings")).filter((n) => n.endsWith(".hrp")), [`${fine.id}.hrp`]);
    assert.not.match(await (await app.request("/replay/")).text(), "status-corrupt");
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
