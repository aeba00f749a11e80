/**
 * The replay dashboard through `app.request()`: every page and endpoint, who
 * may see what (403 until configured, `authorize(c, recording)` on every
 * recording route), hostile ids, cross-site POSTs, recorded markup that must
 * stay text, filters and cursor pagination over 10,000 recordings, the live
 * streams, downloads and the offline export.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { Hono } from "hono";
import { gunzipSync } from "fflate";
import { createReplay, memoryStorage, type Replay, ReplayError, type RecordingSummary } from "../mod.ts";
import { createDashboard, type DashboardOptions } from "../dashboard/mod.ts";
import { buildClient } from "../dashboard/client/build.ts";
import { clientJs } from "../dashboard/client/bundle.gen.ts";
import type { FrameBatch, LiveUpdate, PlayerData } from "../dashboard/shared.ts";
import { createDemoApp, views } from "../examples/demo/app.tsx";
import { finalized } from "./support/demo_visits.ts";
import { waitFor } from "./support/wait.ts";

// ---- helpers ----

type Fetcher = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** A browser session against the demo: the first GET mounts the signup view, then one validate per keystroke. */
async function typeIntoSignup(demo: Fetcher, name: string, email = "") {
  const pause = () => new Promise((r) => setTimeout(r, 2));
  const first = await demo.request("http://127.0.0.1/signup");
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  let typed = "";
  for (const ch of name) {
    typed += ch;
    await pause(); // keystrokes a few ms apart, as a person types: each frame at its own millisecond
    await demo.request("http://127.0.0.1/signup/validate", {
      method: "POST",
      body: new URLSearchParams({ name: typed, email }),
      headers: { cookie, "x-replay-event": "validate", "content-type": "application/x-www-form-urlencoded" },
    });
  }
  return cookie;
}

async function leave(demo: Fetcher, cookie: string) {
  await demo.request("http://127.0.0.1/__replay/leave", { method: "POST", headers: { cookie } });
}

function dashboardApp(replay: Replay, options: DashboardOptions, mount = "/replay") {
  const app = new Hono();
  app.route(mount, createDashboard(replay, options));
  return app;
}

function playerData(html: string): PlayerData {
  const m = html.match(/<script type="application\/json" id="player-data">([\s\S]*?)<\/script>/);
  assert.ok(m, "the player page carries its data");
  return JSON.parse(m![1]);
}

/** Reads a server-sent event stream until `done` says so, then hangs up. */
async function readSse(res: Response, done: (text: string) => boolean): Promise<string> {
  assert.is(res.headers.get("content-type")?.split(";")[0], "text/event-stream");
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

function sseData(text: string, event: string): unknown[] {
  return text.split("\n\n").filter((block) => block.includes(`event: ${event}`)).map((block) => {
    const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
    return JSON.parse(data);
  });
}

/** The form token: the nonce cookie a dashboard page sets, and the hidden field (its HMAC) it renders. */
async function csrf(app: Fetcher, path = "/replay/"): Promise<{ cookie: string; token: string }> {
  const res = await app.request(path);
  const cookie = res.headers.get("set-cookie")!.split(";")[0];
  const token = (await res.text()).match(/name="_csrf" value="([a-f0-9]{64})"/)![1];
  assert.match(cookie, /^hono_replay_csrf=[a-z0-9]{32}$/);
  return { cookie, token };
}

function post(app: Fetcher, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.request(path, {
    method: "POST",
    body: new URLSearchParams(form),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

const HOSTILE_IDS = ["..%2F..%2Fetc%2Fpasswd", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "a.b", "x".repeat(101), "%00", "id%20with%20space"];

// ---- the bundle ----

test("the committed client bundle is what dashboard/client/build.ts builds from the sources", async () => {
  const built = await buildClient();
  assert.ok(built === clientJs, "dashboard/client/bundle.gen.ts is stale: run `node --import tsx dashboard/client/build.ts`");
  assert.not.ok(/<\/script/i.test(clientJs), "the bundle can be inlined into a <script> element");
  assert.not.ok(/https?:\/\/(?!www\.w3\.org)/.test(clientJs.replace(/"http:\/\/www\.w3\.org[^"]*"/g, "")), "the bundle fetches nothing from outside");
});

// ---- access ----

test("without authorize, every route answers 403 with a page that says how to configure it", async () => {
  const replay = createReplay({ views, storage: memoryStorage(), worker: false });
  try {
    const app = dashboardApp(replay, {});
    for (const path of ["/replay", "/replay/", "/replay/live", "/replay/fidelity?ids=a", "/replay/clear", "/replay/r/abc", "/replay/r/abc/frames", "/replay/r/abc/live", "/replay/r/abc/download", "/replay/r/abc/export", "/replay/assets/x.js", "/replay/nothing"]) {
      const res = await app.request(path);
      assert.is(res.status, 403, path);
      const html = await res.text();
      assert.match(html, "not configured");
      assert.match(html, "authorize: (c, recording) => isAdmin(c)");
      assert.match(html, "dangerouslyAllowOpenAccess: true");
    }
    for (const path of ["/replay/clear", "/replay/r/abc/delete"]) assert.is((await app.request(path, { method: "POST" })).status, 403, path);
  } finally {
    await replay.close();
  }
});

test("authorize(c, recording) is asked for every recording route, with that recording; refused means 403", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada"));
    const [summary] = await finalized(replay, 1);
    const asked: (string | undefined)[] = [];
    const app = dashboardApp(replay, {
      authorize: (c, recording) => {
        asked.push(recording?.id);
        return c.req.header("x-role") === "admin";
      },
    });
    const base = `/replay/r/${summary.id}`;
    const routes = [base, `${base}/frames`, `${base}/live`, `${base}/download`, `${base}/export`];
    for (const path of routes) {
      asked.length = 0;
      const res = await app.request(path);
      assert.is(res.status, 403, path);
      // Refused for the recording, then asked about the dashboard (to answer as for an unknown id).
      assert.equal(asked, [summary.id, undefined], `${path} asked about its recording`);
    }
    asked.length = 0;
    assert.is((await post(app, `${base}/delete`, {})).status, 403);
    assert.equal(asked, [summary.id, undefined]);
    assert.is((await replay.store.listRecordingSummaries()).length, 1, "nothing was deleted");

    for (const path of ["/replay", "/replay/live", `/replay/fidelity?ids=${summary.id}`, "/replay/clear"]) {
      asked.length = 0;
      assert.is((await app.request(path)).status, 403, path);
      assert.equal(asked, [undefined], `${path} asked about the dashboard itself`);
    }

    const admin = { headers: { "x-role": "admin" } };
    for (const path of [base, `${base}/frames`, `${base}/download`, `${base}/export`, "/replay"]) {
      assert.is((await app.request(path, admin)).status, 200, path);
    }
    // An authorize that throws refuses instead of serving, and says why through the dashboard's logger (1, 10, 100… times).
    const warned: string[] = [];
    const logger = { warn: (m: string) => void warned.push(m), error: (m: string) => void warned.push(m) };
    const throwing = dashboardApp(replay, { authorize: () => { throw new Error("session store down"); }, logger });
    for (let i = 0; i < 10; i++) assert.is((await throwing.request(base)).status, 403);
    assert.equal(warned, [
      "dashboard: authorize threw, so the request is refused (session store down)",
      "dashboard: authorize threw, so the request is refused (session store down); 10 times so far",
    ]);
  } finally {
    await replay.close();
  }
});

test("the index hides recordings authorize refuses", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada"));
    await leave(demo, await typeIntoSignup(demo, "Bob"));
    const list = await finalized(replay, 2);
    const hidden = list[0].id;
    const app = dashboardApp(replay, { authorize: (_c, recording) => recording?.id !== hidden });
    const html = await (await app.request("/replay")).text();
    assert.not.match(html, hidden);
    assert.match(html, list[1].id);
    assert.is((await app.request(`/replay/r/${hidden}`)).status, 404, "a hidden recording answers as an unknown one");
  } finally {
    await replay.close();
  }
});

test("hostile ids are refused before anything is looked up", async () => {
  const { replay } = createDemoApp({ storage: memoryStorage(), worker: false });
  try {
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });
    for (const id of HOSTILE_IDS) {
      for (const suffix of ["", "/frames", "/live", "/download", "/export"]) {
        const res = await app.request(`/replay/r/${id}${suffix}`);
        assert.ok(res.status === 400 || res.status === 404, `${id}${suffix}: ${res.status}`);
        const body = await res.text();
        assert.not.match(body, "<script>alert", "the id is not reflected as markup");
        if (res.status === 400) assert.match(body, "1-100 characters");
      }
      assert.ok([400, 404].includes((await post(app, `/replay/r/${id}/delete`, {})).status));
    }
    assert.is((await app.request("/replay/r/" + "x".repeat(101))).status, 400);
    assert.is((await app.request("/replay/r/a.b/frames")).status, 400);
    assert.is((await app.request("/replay/fidelity?ids=ok,..%2Fx")).status, 400);
    assert.is((await app.request("/replay/r/no-such-recording")).status, 404);
  } finally {
    await replay.close();
  }
});

// ---- pages ----

test("the index lists recordings with view, URL, start, duration, events, size, status and fidelity", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada Lovelace"));
    const [summary] = await finalized(replay, 1);
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });

    const res = await app.request("/replay");
    assert.is(res.status, 200);
    const policy = res.headers.get("content-security-policy")!;
    for (const part of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'self'", "base-uri 'none'"]) assert.match(policy, part);
    assert.is(res.headers.get("x-content-type-options"), "nosniff");
    const html = await res.text();
    const row = html.slice(html.indexOf(`<tr data-id="${summary.id}"`), html.indexOf("</tr>", html.indexOf(`<tr data-id="${summary.id}"`)));
    assert.match(row, `href="/replay/r/${summary.id}"`);
    assert.match(row, "SignupForm");
    assert.match(row, "/signup");
    assert.match(row, new Date(summary.startedAt).toISOString().slice(0, 10));
    assert.match(row, `>${summary.eventCount}<`);
    assert.match(row, "status-finalized");
    assert.match(row, `data-fidelity-pending="${summary.id}"`, "fidelity is filled in by the client");
    assert.match(html, /<script src="\/replay\/assets\/client-[a-z0-9]+\.js" defer/);

    // The fidelity endpoint re-renders every frame; afterwards the index shows it directly.
    const fidelity = await (await app.request(`/replay/fidelity?ids=${summary.id}`)).json();
    const frames = replay.player(await replay.store.getRecording(summary.id)).frameCount;
    assert.is(frames, 13, "the mount and one render per keystroke");
    assert.equal(fidelity[summary.id].label, "✓ all 13 identical");
    assert.match(await (await app.request("/replay")).text(), "✓ all 13 identical");

    // The client module and the stylesheet are served by the dashboard itself.
    const js = html.match(/src="(\/replay\/assets\/client-[a-z0-9]+\.js)"/)![1];
    const css = html.match(/href="(\/replay\/assets\/dashboard-[a-z0-9]+\.css)"/)![1];
    const jsRes = await app.request(js);
    assert.is(jsRes.status, 200);
    assert.is(await jsRes.text(), clientJs);
    assert.match(jsRes.headers.get("cache-control")!, "immutable");
    assert.is((await app.request(css)).status, 200);
    assert.is((await app.request("/replay/assets/client-0000.js")).status, 404);
  } finally {
    await replay.close();
  }
});

test("the index says plainly what this instance did not record: sessions past the active cap, dropped frames, recorder errors", async () => {
  const replay = createReplay({ views, storage: memoryStorage(), worker: false, maxActiveRecordings: 1 });
  try {
    const site = new Hono<import("../mod.ts").ReplayEnv>();
    site.route("/replay", createDashboard(replay, { dangerouslyAllowOpenAccess: true }));
    site.use(replay.recorder());
    site.get("/", (c) => c.var.replay.render(views.SignupForm, { form: { name: "", email: "" }, errors: {}, strength: 0, strengthHint: "", submitted: false, checks: 0 }));
    const stat = (html: string, key: string) => {
      const m = html.match(new RegExp(`<span class="(stat[^"]*)" data-stat="${key}"[^>]*><b>(\\d+)</b>`));
      assert.ok(m, `the stats line shows ${key}`);
      return { count: Number(m![2]), warn: m![1].includes("warn") };
    };
    const before = await (await site.request("/replay/")).text();
    assert.equal(stat(before, "capped"), { count: 0, warn: false }, "nothing capped yet");

    for (let i = 0; i < 3; i++) assert.is((await site.request("/")).status, 200, "every visitor is served");
    assert.is(replay.engine.capped, 2, "one session recorded, two past the cap");
    const html = await (await site.request("/replay/")).text();
    assert.match(html, /id="stats">This instance since it started:/);
    assert.equal(stat(html, "capped"), { count: 2, warn: true }, "shown, and marked");
    assert.equal(stat(html, "dropped").count, replay.engine.dropped);
    assert.equal(stat(html, "recorder-errors").count, replay.engine.recorderErrors);
    assert.equal(stat(html, "unserved").count, replay.engine.unservedRenders);
    assert.equal(stat(html, "restarts").count, replay.engine.restarts);
    assert.equal(stat(html, "stream-errors").count, 0);
  } finally {
    await replay.close();
  }
});

test("filters and sorting live in the URL", async () => {
  const storage = memoryStorage();
  const replay = createReplay({ views, storage, worker: false });
  try {
    const base = Date.UTC(2026, 0, 10, 12, 0, 0);
    const make = (i: number, extra: Partial<RecordingSummary>): RecordingSummary => ({
      id: `rec-${i}`, view: "SignupForm", url: "http://127.0.0.1/signup", sessionKey: "k", startedAt: base + i * 60_000,
      durationMs: 1000 * i, eventCount: 10 * i, eventNames: ["validate"], truncated: false, dropped: 0, recovered: false,
      format: "tagged", sizeBytes: 100 * i, ...extra,
    });
    await storage.save(make(1, {}), new Uint8Array(1));
    await storage.save(make(2, { view: "TodoList", url: "http://127.0.0.1/todos?filter=done", eventNames: ["POST /todos"] }), new Uint8Array(1));
    await storage.save(make(3, { view: "PostIndex", url: "http://127.0.0.1/posts?q=ring", eventNames: [], truncated: true, dropped: 4 }), new Uint8Array(1));
    await storage.save(make(4, { recovered: true }), new Uint8Array(1));
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });
    const ids = async (query: string) => [...(await (await app.request(`/replay/${query}`)).text()).matchAll(/<tr data-id="(rec-\d)"/g)].map((m) => m[1]);

    assert.equal(await ids(""), ["rec-4", "rec-3", "rec-2", "rec-1"], "newest first");
    assert.equal(await ids("?view=TodoList"), ["rec-2"]);
    assert.equal(await ids("?url=%2Fposts"), ["rec-3"]);
    assert.equal(await ids("?event=validate"), ["rec-4", "rec-1"]);
    assert.equal(await ids("?q=ring"), ["rec-3"]);
    assert.equal(await ids("?q=POST"), ["rec-3", "rec-2"], "free text over views, URLs and event names");
    assert.equal(await ids("?minEvents=25"), ["rec-4", "rec-3"]);
    assert.equal(await ids("?minDuration=2"), ["rec-4", "rec-3", "rec-2"]);
    assert.equal(await ids("?from=2026-01-10T12:02&to=2026-01-10T12:04"), ["rec-3", "rec-2"], "datetime-local values, in UTC");
    assert.equal(await ids("?sort=sizeBytes&order=asc"), ["rec-1", "rec-2", "rec-3", "rec-4"]);
    assert.equal(await ids("?sort=bogus&minEvents=-3&from=yesterday"), ["rec-4", "rec-3", "rec-2", "rec-1"], "nonsense is ignored");

    const html = await (await app.request("/replay/?view=TodoList&minEvents=5")).text();
    assert.match(html, '<option value="TodoList" selected');
    assert.match(html, 'name="minEvents" value="5"');
    assert.match(html, 'href="/replay/?view=TodoList&amp;minEvents=5&amp;sort=durationMs&amp;order=desc"', "sort links keep the filters");
    const statuses = await (await app.request("/replay/?view=PostIndex")).text();
    assert.match(statuses, ">truncated<");
    assert.match(statuses, ">4 dropped<");
    assert.match(await (await app.request("/replay/?sort=startedAt")).text(), ">recovered<");
  } finally {
    await replay.close();
  }
});

test("cursor pagination walks 10,000 recordings without repeats or gaps", async () => {
  const storage = memoryStorage();
  const replay = createReplay({ views, storage, worker: false });
  try {
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 10_000; i++) {
      await storage.save({
        id: `r${String(i).padStart(5, "0")}`, view: i % 3 ? "SignupForm" : "TodoList", url: `http://127.0.0.1/p/${i}`, sessionKey: "k",
        startedAt: t0 + i * 1000, durationMs: i % 97, eventCount: 1 + (i % 50), eventNames: ["validate"], truncated: false, dropped: 0,
        recovered: false, format: "tagged", sizeBytes: 100,
      }, new Uint8Array(1));
    }
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true, pageSize: 50 });
    const timings: number[] = [];
    let url: string | undefined = "/replay/?view=TodoList&minEvents=40";
    const seen = new Set<string>();
    let pages = 0;
    while (url) {
      const started = performance.now();
      const html = await (await app.request(url)).text();
      timings.push(performance.now() - started);
      const rowIds = [...html.matchAll(/<tr data-id="(r\d+)"/g)].map((m) => m[1]);
      for (const id of rowIds) {
        assert.not.ok(seen.has(id), `${id} appears once`);
        seen.add(id);
      }
      const next = html.match(/id="next-page" href="([^"]+)"/);
      url = next ? next[1].replace(/&amp;/g, "&") : undefined;
      if (url) assert.match(url, "view=TodoList");
      pages++;
    }
    let expected = 0;
    for (let i = 0; i < 10_000; i++) if (i % 3 === 0 && 1 + (i % 50) >= 40) expected++;
    assert.is(seen.size, expected, "every matching recording, once");
    assert.is(pages, Math.ceil(expected / 50));
    const sorted = [...timings].sort((a, b) => a - b);
    console.log(`  10,000 recordings, filtered: ${pages} pages, median ${sorted[sorted.length >> 1].toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms per page`);
  } finally {
    await replay.close();
  }
});

test("the player page: the frame at ?t= in a sandboxed iframe, the events, the inspector, the data for the client", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada"));
    const [summary] = await finalized(replay, 1);
    const recording = await replay.store.getRecording(summary.id);
    const player = replay.player(recording);
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true, head: '<link rel="stylesheet" href="/static/app.css">' });

    const third = player.timeline.frames[2];
    const res = await app.request(`/replay/r/${summary.id}?t=${third.t}`);
    assert.is(res.status, 200);
    const html = await res.text();
    const data = playerData(html);
    assert.is(data.id, summary.id);
    assert.is(data.frames.length, player.frameCount);
    assert.is(data.events.length, recording.events.length);
    assert.equal(data.events.map((e) => e.kind), recording.events.map((e) => e.kind));
    assert.is(data.events[1].label, "validate");
    assert.match(data.events[1].detail, 'name: "A"');
    assert.is(data.initialT, third.t);
    assert.is(data.initialFrames[0].i, 2);
    assert.is(data.initialFrames[0].html, player.renderFrame(2).html);
    assert.ok(data.cacheKey?.includes(summary.id), "finalized: cacheable");
    assert.match(data.frameHead, `Content-Security-Policy`);
    assert.match(data.frameHead, "script-src 'none'");
    assert.match(data.frameHead, '<link rel="stylesheet" href="/static/app.css">', "the head option");

    // The server-rendered player already shows that frame: a sandboxed iframe (no allow-* at all) with the view's HTML.
    const iframes = html.match(/<iframe [\s\S]*?<\/iframe>/g)!;
    assert.is(iframes.length, 2, "two frame slots, one shown, one loading the next frame");
    for (const f of iframes) assert.ok(f.startsWith("<iframe sandbox "), "sandboxed with no permission at all");
    const iframe = iframes.find((f) => f.includes('data-front="true"'))!;
    assert.match(iframe, 'data-frame-index="2"');
    assert.match(iframe, "srcdoc=\"&lt;!DOCTYPE html>&lt;meta http-equiv=&quot;Content-Security-Policy&quot;");
    assert.match(iframe, "value=&quot;Ad&quot;", "the name typed so far");
    assert.not.match(html, /allow-(scripts|same-origin|forms|popups|top)/);
    // Inspector: every assign, the keys this render changed marked, the diff against frame 1.
    assert.match(html, '<tr class="changed" data-key="form">');
    assert.match(html, '<tr data-key="submitted">', "not changed by this render");
    assert.match(html, /<div class="diff-entry" data-key="form">[\s\S]*?<pre class="del">\{ name: &quot;A&quot;, email: &quot;&quot; \}<\/pre><pre class="add">\{ name: &quot;Ad&quot;, email: &quot;&quot; \}<\/pre>/);
    assert.match(html, `href="/replay/r/${summary.id}/download"`);
    assert.match(html, `href="/replay/r/${summary.id}/export"`);
    assert.match(res.headers.get("content-security-policy")!, "script-src 'self'");

    // No ?t=: the start. A ?t= past the end: the end.
    assert.is(playerData(await (await app.request(`/replay/r/${summary.id}`)).text()).initialFrames[0].i, 0);
    assert.is(playerData(await (await app.request(`/replay/r/${summary.id}?t=99999999`)).text()).initialT, recording.durationMs);
  } finally {
    await replay.close();
  }
});

test("frameSources widen what frames (and only styles, images, fonts) may load; anything else in them is dropped", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada"));
    const [summary] = await finalized(replay, 1);
    const app = dashboardApp(replay, {
      dangerouslyAllowOpenAccess: true,
      frameSources: ["https://cdn.example.com", "https://x.example; script-src *", "javascript:alert(1)"],
    });
    const res = await app.request(`/replay/r/${summary.id}`);
    const policy = res.headers.get("content-security-policy")!;
    assert.match(policy, "style-src 'self' 'unsafe-inline' https://cdn.example.com;");
    assert.match(policy, "script-src 'self';");
    assert.not.match(policy, "x.example");
    assert.not.match(policy, "javascript:");
    const data = playerData(await res.text());
    assert.match(data.frameHead, "style-src 'unsafe-inline' http://localhost https://cdn.example.com;");
    assert.match(data.frameHead, "script-src 'none'");
    assert.not.match(data.frameHead, "x.example");
  } finally {
    await replay.close();
  }
});

test("frames come in batches rendered by the replay engine, with assigns, changed keys and diffs", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Grace Hopper"));
    const [summary] = await finalized(replay, 1);
    const player = replay.player(await replay.store.getRecording(summary.id));
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true, batchSize: 5 });

    const res = await app.request(`/replay/r/${summary.id}/frames?from=3&count=5`);
    assert.is(res.status, 200);
    const batch = (await res.json()) as FrameBatch;
    assert.is(batch.frameCount, player.frameCount);
    assert.is(batch.active, false);
    assert.equal(batch.frames.map((f) => f.i), [3, 4, 5, 6, 7]);
    for (const f of batch.frames) {
      const rendered = player.renderFrame(f.i);
      assert.is(f.html, rendered.html);
      assert.is(f.t, rendered.t);
      assert.is(f.identical, true);
      assert.equal(f.changed, player.timeline.changedKeys(f.i));
      const assigns = Object.fromEntries(f.assigns);
      assert.is(assigns.checks, String(player.timeline.assignsOf(f.i).checks));
      assert.is(assigns.form, `{ name: ${JSON.stringify("Grace Hopper".slice(0, f.i))}, email: "" }`);
      assert.ok(f.diff.some((d) => d.key === "checks" && d.before === String(Number(d.after) - 1)), `frame ${f.i}: checks went up by one`);
    }
    const tail = (await (await app.request(`/replay/r/${summary.id}/frames?from=${player.frameCount - 2}&count=100`)).json()) as FrameBatch;
    assert.is(tail.frames.length, 2, "a batch stops at the last frame");
    for (const bad of ["from=-1", "from=1.5", "count=0", "count=501", "from=x"]) {
      assert.is((await app.request(`/replay/r/${summary.id}/frames?${bad}`)).status, 400, bad);
    }
  } finally {
    await replay.close();
  }
});

test("recorded markup stays text: assigns and params holding <script> and onerror payloads", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    const payload = `</script><script>alert(1)</script><img src=x onerror="alert(2)">&amp;\u2028`;
    await leave(demo, await typeIntoSignup(demo, payload));
    const [summary] = await finalized(replay, 1);
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });
    const html = await (await app.request(`/replay/r/${summary.id}?t=999999`)).text();
    // Only the dashboard's own script elements: its client module and two non-executed JSON blocks.
    const scripts = [...html.matchAll(/<script[^>]*>/gi)].map((m) => m[0]);
    assert.equal(scripts, ['<script src="/replay/assets/' + html.match(/assets\/(client-[a-z0-9]+\.js)/)![1] + '" defer>', '<script type="application/json" id="player-data">']);
    assert.not.match(html, /<img src=x/i);
    assert.match(html, "&lt;/script>&lt;script>alert(1)&lt;/script>&lt;img src=x onerror=\\&quot;alert(2)\\&quot;>", "as text in the inspector");
    // The JSON for the client cannot close its element and parses back to the payload.
    const data = playerData(html);
    assert.ok(data.events.some((e) => e.detail.includes("<script>alert(1)</script>")));
    assert.ok(data.initialFrames[0].assigns.some(([k, v]) => k === "form" && v.includes('onerror=\\"alert(2)\\"')));
    // In the frame, the view itself escaped it (Preact), and the frame is a sandboxed srcdoc with script-src 'none'.
    assert.match(data.initialFrames[0].html, "&lt;/script>&lt;script>alert(1)");

    const exported = await (await app.request(`/replay/r/${summary.id}/export`)).text();
    const exportScripts = [...exported.matchAll(/<script[^>]*>/gi)].map((m) => m[0]);
    assert.equal(exportScripts, ['<script type="application/json" id="player-data">', '<script type="application/octet-stream" id="frames-gz">', "<script>"]);
  } finally {
    await replay.close();
  }
});

test("download gives the stored file; export is one HTML file that needs no server", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada"));
    const [summary] = await finalized(replay, 1);
    const player = replay.player(await replay.store.getRecording(summary.id));
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });

    const download = await app.request(`/replay/r/${summary.id}/download`);
    assert.is(download.status, 200);
    assert.is(download.headers.get("content-disposition"), `attachment; filename="${summary.id}.hrp"`);
    assert.equal(new Uint8Array(await download.arrayBuffer()), await replay.store.storage.load(summary.id));

    const res = await app.request(`/replay/r/${summary.id}/export`);
    assert.is(res.status, 200);
    assert.match(res.headers.get("content-disposition")!, `attachment; filename="replay-SignupForm-${summary.id}.html"`);
    const html = await res.text();
    // Self-contained: no external script, stylesheet or fetch; the inline client allowed by its hash only.
    assert.not.match(html, /<script[^>]+src=/);
    assert.not.match(html, /<link[^>]+stylesheet/);
    const meta = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)"/)![1].replace(/&#39;/g, "'");
    const hash = meta.match(/script-src 'sha256-([^']+)'/)![1];
    const inline = html.match(/<script>([\s\S]*?)<\/script>/)![1];
    assert.is(inline, clientJs);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(inline)));
    assert.is(hash, btoa(String.fromCharCode(...digest)));
    assert.match(meta, "default-src 'none'");
    assert.not.match(meta, "connect-src");
    // Every frame, pre-rendered, gzipped inside.
    const data = playerData(html);
    assert.is(data.mode, "export");
    assert.is(data.endpoints, undefined);
    const gz = html.match(/<script type="application\/octet-stream" id="frames-gz">([^<]*)<\/script>/)![1];
    const frames = JSON.parse(new TextDecoder().decode(gunzipSync(Uint8Array.from(atob(gz), (c) => c.charCodeAt(0)))));
    assert.is(frames.length, player.frameCount);
    for (let i = 0; i < player.frameCount; i++) assert.is(frames[i].html, player.renderFrame(i).html);
  } finally {
    await replay.close();
  }
});

test("delete and clear all are POSTs from the dashboard's own forms; cross-site requests are refused", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    for (const name of ["Ada", "Bob", "Cy"]) await leave(demo, await typeIntoSignup(demo, name));
    const [a, b] = await finalized(replay, 3);
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });
    const { cookie, token } = await csrf(app);
    const remaining = async () => (await replay.store.listRecordingSummaries()).length;

    assert.is((await app.request(`/replay/r/${a.id}/delete`)).status, 404, "not a GET");
    assert.is((await post(app, `/replay/r/${a.id}/delete`, { _csrf: token })).status, 403, "no cookie");
    assert.is((await post(app, `/replay/r/${a.id}/delete`, {}, { cookie })).status, 403, "no token");
    assert.is((await post(app, `/replay/r/${a.id}/delete`, { _csrf: "x".repeat(32) }, { cookie })).status, 403, "wrong token");
    assert.is((await post(app, `/replay/r/${a.id}/delete`, { _csrf: token }, { cookie, origin: "https://evil.example" })).status, 403, "other origin");
    assert.is((await post(app, `/replay/r/${a.id}/delete`, { _csrf: token }, { cookie, "sec-fetch-site": "cross-site" })).status, 403, "cross-site");
    assert.is((await post(app, "/replay/clear", { _csrf: token }, { cookie, "sec-fetch-site": "same-site" })).status, 403, "a sibling subdomain");
    assert.is(await remaining(), 3, "nothing deleted so far");

    const ok = await post(app, `/replay/r/${a.id}/delete`, { _csrf: token, back: "?view=SignupForm&cursor=zzz&evil=1" }, {
      cookie, origin: "http://localhost", "sec-fetch-site": "same-origin",
    });
    assert.is(ok.status, 303);
    assert.is(ok.headers.get("location"), "/replay/?view=SignupForm&cursor=zzz&notice=deleted");
    assert.is(await remaining(), 2);
    assert.is((await app.request(`/replay/r/${a.id}`)).status, 404);
    assert.match(await (await app.request("/replay/?notice=deleted")).text(), "The recording was deleted.");

    const confirm = await (await app.request("/replay/clear")).text();
    assert.match(confirm, "Delete every recording?");
    assert.match(confirm, `action="/replay/clear"`);
    assert.is((await post(app, "/replay/clear", { _csrf: token }, { cookie })).status, 403, "neither Origin nor Sec-Fetch-Site");
    const cleared = await post(app, "/replay/clear", { _csrf: token }, { cookie, "sec-fetch-site": "same-origin" });
    assert.is(cleared.status, 303);
    assert.is(await remaining(), 0);
    assert.is((await app.request(`/replay/r/${b.id}/frames`)).status, 404, "caches are forgotten too");
  } finally {
    await replay.close();
  }
});

test("deleted elsewhere: the dashboard stops serving it, and tells browsers which cached recordings they may keep", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    for (const name of ["Ada", "Bob", "Cy"]) await leave(demo, await typeIntoSignup(demo, name));
    const [a, b, hidden] = await finalized(replay, 3);
    const app = dashboardApp(replay, { authorize: (c, r) => c.req.header("x-role") === "admin" && r?.id !== hidden.id });
    const admin = { headers: { "x-role": "admin" } };
    const keep = async (ids: string[]) => ((await (await app.request(`/replay/cached?ids=${ids.join(",")}`, admin)).json()) as { keep: string[] }).keep;

    // Served (and kept decoded by the dashboard), then deleted by someone else, through the store.
    assert.is((await app.request(`/replay/r/${a.id}`, admin)).status, 200);
    assert.is((await app.request(`/replay/r/${a.id}/frames`, admin)).status, 200);
    assert.equal(await keep([a.id, b.id]), [a.id, b.id], "both exist: both may be kept");
    await replay.store.deleteRecording(a.id);
    assert.equal(await keep([a.id, b.id]), [b.id], "at once: answered from the store, not from memory");
    await waitFor(async () => (await app.request(`/replay/r/${a.id}/frames`, admin)).status === 404, "the deleted recording to stop being served");
    assert.is((await app.request(`/replay/r/${a.id}`, admin)).status, 404);

    assert.equal(await keep([hidden.id, "0unknown-id"]), [], "neither one authorize refuses nor an unknown one: the answers are the same");
    assert.is((await app.request(`/replay/cached?ids=${b.id}`)).status, 403, "asks authorize about the dashboard");
    assert.is((await app.request(`/replay/cached?ids=${"x,".repeat(51)}`, admin)).status, 400);
    assert.is((await app.request("/replay/cached?ids=..%2Fetc", admin)).status, 400);
    assert.match(await (await app.request("/replay/", admin)).text(), 'data-cached-url="/replay/cached"', "every page tells the client where to ask");
  } finally {
    await replay.close();
  }
});

test("an active recording: listed live on the index, its player follows it over server-sent events until it is finalized", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });
    const cookie = await typeIntoSignup(demo, "Ad");
    const [active] = await replay.store.listActive();
    assert.ok(active, "recording");

    const index = await (await app.request("/replay")).text();
    assert.match(index, `<tr data-id="${active.id}">`);
    assert.match(index, "status-active");
    const live = sseData(await readSse(await app.request("/replay/live?view=SignupForm"), (t) => t.includes("\n\n")), "active");
    assert.equal((live[0] as { id: string }[]).map((r) => r.id), [active.id]);
    const none = sseData(await readSse(await app.request("/replay/live?view=TodoList"), (t) => t.includes("\n\n")), "active");
    assert.equal(none, [[]], "the index's filters apply to active recordings too");

    const page = await app.request(`/replay/r/${active.id}`);
    const data = playerData(await page.text());
    assert.is(data.status.active, true);
    assert.is(data.cacheKey, undefined, "an active recording is not cached");
    assert.is(data.initialT, data.durationMs, "opens at the live edge");
    assert.is((await app.request(`/replay/r/${active.id}/download`)).status, 409);
    const activeBatch = (await (await app.request(`/replay/r/${active.id}/frames`)).json()) as FrameBatch;
    assert.is(activeBatch.active, true);
    assert.is(activeBatch.frames.length, 3);

    // Someone keeps typing: the stream sends what was added after the count the client has.
    const stream = await app.request(`/replay/r/${active.id}/live?after=${data.eventCount}`);
    await demo.request("http://127.0.0.1/signup/validate", {
      method: "POST",
      body: new URLSearchParams({ name: "Ada", email: "" }),
      headers: { cookie, "x-replay-event": "validate", "content-type": "application/x-www-form-urlencoded" },
    });
    const updates = sseData(await readSse(stream, (t) => t.includes("event: update")), "update") as LiveUpdate[];
    assert.equal(updates[0].events.map((e) => e.kind), ["event", "render"]);
    assert.equal(updates[0].frames.map((f) => f.e), [data.eventCount + 1]);
    assert.is(updates[0].eventCount, data.eventCount + 2);
    assert.is(updates[0].final, undefined);

    // The tab closes: the recording ends and the stream's last update says it is final (and cacheable).
    const closing = await app.request(`/replay/r/${active.id}/live?after=${data.eventCount + 2}`);
    await leave(demo, cookie);
    const last = sseData(await readSse(closing, (t) => t.includes('"final"')), "update") as LiveUpdate[];
    const final = last[last.length - 1].final!;
    assert.ok(final.cacheKey.includes(active.id));
    assert.is(final.status.active, false);
    // Last-Event-ID resumes a dropped stream where it was.
    const resumed = sseData(await readSse(await app.request(`/replay/r/${active.id}/live`, { headers: { "last-event-id": "2" } }), (t) => t.includes('"final"')), "update") as LiveUpdate[];
    assert.is(resumed[0].events.length, data.eventCount + 2 - 2);
  } finally {
    await replay.close();
  }
});

test("a live stream that fails is counted and logged, not swallowed: storage outages once, other errors on the index too", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  const logged: string[] = [];
  // Through the dashboard's `logger` option: nothing of it reaches the console.
  const logger = {
    warn: (m: string) => void logged.push(m),
    error: (m: string, e?: unknown) => void logged.push(e === undefined ? m : `${m} ${e instanceof Error ? e.message : String(e)}`),
  };
  try {
    const cookie = await typeIntoSignup(demo, "Ad");
    const [active] = await replay.store.listActive();
    // The store as the dashboard sees it, failing on demand.
    let failing = false;
    const store = new Proxy(replay.store, {
      get(target, key) {
        if (failing && key === "getActive") return () => Promise.reject(new ReplayError("simulated fault"));
        if (failing && key === "listActive") return () => Promise.reject(new Error("connection reset"));
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const app = new Hono();
    app.route("/replay", createDashboard({ store, views: replay.views, player: (r) => replay.player(r), engine: replay.engine }, { dangerouslyAllowOpenAccess: true, logger }));

    const recording = await app.request(`/replay/r/${active.id}/live?after=${active.eventCount}`);
    const list = await app.request("/replay/live");
    failing = true;
    await readSse(recording, () => false); // until the server ends it
    await readSse(list, () => false);
    failing = false;
    assert.equal(logged.filter((l) => l.includes(`the live stream of recording ${active.id} failed`) && l.includes("simulated fault")).length, 1, logged.join("\n"));
    assert.equal(logged.filter((l) => l.includes("storage is unavailable (connection reset)")).length, 1, "an outage, logged once");
    const html = await (await app.request("/replay/")).text();
    assert.match(html, /<span class="stat warn" data-stat="stream-errors"[^>]*><b>1<\/b>/, "shown on the index");
    await leave(demo, cookie);
  } finally {
    await replay.close();
  }
});

test("mounted anywhere: links follow the mount point, with route params and a trailing slash", async () => {
  const { app: demo, replay } = createDemoApp({ storage: memoryStorage(), worker: false, beaconGraceMs: 0 });
  try {
    await leave(demo, await typeIntoSignup(demo, "Ada"));
    const [summary] = await finalized(replay, 1);
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true }, "/t/:tenant/admin/replay");
    for (const path of ["/t/acme/admin/replay", "/t/acme/admin/replay/"]) {
      const html = await (await app.request(path)).text();
      assert.match(html, `href="/t/acme/admin/replay/r/${summary.id}"`, path);
      assert.match(html, 'src="/t/acme/admin/replay/assets/client-');
    }
    const data = playerData(await (await app.request(`/t/acme/admin/replay/r/${summary.id}`)).text());
    assert.is(data.endpoints!.frames, `/t/acme/admin/replay/r/${summary.id}/frames`);
    assert.is((await app.request(data.endpoints!.frames)).status, 200);
    // The demo mounts it at /replay, before its recorder: browsing the dashboard records nothing.
    assert.is((await demo.request("http://127.0.0.1/replay")).status, 200);
    assert.is((await replay.store.listActive()).length, 0);
  } finally {
    await replay.close();
  }
});

test("a corrupt recording is a clear error for that recording only; an unregistered view cannot be replayed", async () => {
  const storage = memoryStorage();
  const replay = createReplay({ views, storage, worker: false });
  try {
    const summary = (id: string, view: string): RecordingSummary => ({
      id, view, url: "http://127.0.0.1/", sessionKey: "k", startedAt: Date.now(), durationMs: 1, eventCount: 2, eventNames: [],
      truncated: false, dropped: 0, recovered: false, format: "tagged", sizeBytes: 3,
    });
    await storage.save(summary("broken", "SignupForm"), new Uint8Array([1, 2, 3]));
    const app = dashboardApp(replay, { dangerouslyAllowOpenAccess: true });
    const res = await app.request("/replay/r/broken");
    assert.is(res.status, 422);
    assert.match(await res.text(), "corrupt");
    assert.equal(await (await app.request("/replay/fidelity?ids=broken")).json(), {
      broken: { label: "corrupt", tone: "bad", title: "recording broken is corrupt (not a hono-replay recording file); delete it or restore it from a backup" },
    });
    assert.is((await app.request("/replay")).status, 200, "the index still works");

    // A real recording of a view that is no longer registered.
    const other = createReplay({ views: { Gone: views.SignupForm }, storage, worker: false });
    const demoApp = new Hono<import("../mod.ts").ReplayEnv>();
    demoApp.use(other.recorder());
    demoApp.get("/", (c) => c.var.replay.render(views.SignupForm, { form: { name: "", email: "" }, errors: {}, strength: 0, strengthHint: "", submitted: false, checks: 0 }));
    const first = await demoApp.request("/");
    await demoApp.request("/?x=1", { headers: { cookie: first.headers.get("set-cookie")!.split(";")[0] } });
    await other.close();
    const gone = (await replay.store.listRecordingSummaries({ view: "Gone" }))[0];
    assert.ok(gone);
    const page = await app.request(`/replay/r/${gone.id}`);
    assert.is(page.status, 409);
    assert.match(await page.text(), "is not registered");
    assert.is((await app.request(`/replay/r/${gone.id}/download`)).status, 200, "it can still be downloaded");
  } finally {
    await replay.close();
  }
});

test.run();
