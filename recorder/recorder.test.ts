/**
 * The recorder's event semantics, through `app.request()` on a small Hono app
 * with two registered views: what a mount holds, params and renders of later
 * GETs, events of form and JSON posts and how they are named, post/redirect/get,
 * info, end, sampling, maxEvents, keyframes, odd assigns, and that replay
 * re-renders exactly the HTML that was served.
 */

import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, memoryStorage, type Recording, type Replay, type ReplayEnv, type ReplayEvent, type ReplayOptions, Timeline } from "../mod.ts";
import { shortHash } from "../format/mod.ts";
import { sampled } from "./mod.ts";

// ---------------------------------------------------------------- the app

interface ItemProps {
  title: string;
  count: number;
  tags: string[];
  note?: string;
}

/** A full document: the middleware serves it with a doctype. */
function ItemPage(props: ItemProps) {
  return h(
    "html",
    { lang: "en" },
    h("head", null, h("title", null, props.title)),
    h(
      "body",
      null,
      h("h1", null, props.title),
      h("output", null, String(props.count)),
      h("ul", null, props.tags.map((t) => h("li", { key: t }, t))),
      props.note === undefined ? null : h("p", { class: "note" }, props.note),
    ),
  );
}

/** A fragment: served as it is rendered. */
function Sidebar(props: { open: boolean; links: string[] }) {
  return h("aside", { class: props.open ? "open" : "closed" }, props.links.map((l) => h("a", { href: l }, l)));
}

function Unregistered(props: { x: number }) {
  return h("span", null, props.x);
}

function itemProps(id: string, query: Record<string, string>, body: Record<string, unknown> = {}): ItemProps {
  const props: ItemProps = {
    title: `Item ${id}`,
    count: Number(body.count ?? query.count ?? 0),
    tags: query.tag ? query.tag.split(",") : ["a", "b"],
  };
  if (query.note) props.note = query.note;
  return props;
}

function makeApp(options: Partial<ReplayOptions> = {}) {
  const replay = createReplay({
    views: { ItemPage, Sidebar },
    storage: memoryStorage(),
    session: (c) => ({ user: c.req.header("x-user") ?? null }),
    ...options,
  });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.onError((error, c) => c.text(`error: ${error.message}`, 500));
  app.use(async (c, next) => {
    await next();
    c.header("x-recorded", String(c.var.replay.recorded));
  });
  app.get("/items/:id", (c) => c.var.replay.render(ItemPage, itemProps(c.req.param("id"), c.req.query())));
  app.post("/items/:id", async (c) => {
    const json = (c.req.header("content-type") ?? "").includes("json");
    const body = json ? await c.req.json() : await c.req.parseBody();
    return c.var.replay.render(ItemPage, itemProps(c.req.param("id"), c.req.query(), body));
  });
  // Post/redirect/get: renders nothing itself.
  app.post("/items/:id/toggle", (c) => c.redirect(`/items/${c.req.param("id")}`, 303));
  app.get("/sidebar", (c) => c.var.replay.render(Sidebar, { open: c.req.query("open") === "1", links: ["/a", "/b"] }));
  app.post("/sidebar", (c) => c.var.replay.render(Sidebar, { open: true, links: ["/a", "/b", "/c"] }));
  app.get("/ping", (c) => {
    c.var.replay.info("tick");
    c.var.replay.info("sidebar-push", Sidebar);
    return c.text("pong");
  });
  app.post("/end/:which", (c) => {
    const which = c.req.param("which");
    c.var.replay.end(which === "sidebar" ? Sidebar : which === "items" ? ItemPage : undefined);
    return c.text("ended");
  });
  app.get("/unregistered", (c) => c.var.replay.render(Unregistered, { x: 1 }));
  return { replay, app };
}

/** One browser: keeps the session cookie, remembers what it was served. */
class Browser {
  cookie = "";
  constructor(private readonly app: Hono<ReplayEnv>, private readonly headers: Record<string, string> = {}) {}

  async fetch(path: string, init: { method?: string; body?: BodyInit; headers?: Record<string, string> } = {}) {
    const headers = { ...this.headers, ...(this.cookie ? { cookie: this.cookie } : {}), ...init.headers };
    const res = await this.app.request(path, { ...init, headers });
    const set = res.headers.get("set-cookie")?.match(/hono_replay=[a-z0-9]+/)?.[0];
    if (set) this.cookie = set;
    return { status: res.status, body: await res.text(), headers: res.headers };
  }

  get sid(): string {
    return this.cookie.split("=")[1];
  }
}

/** Active recordings by view name, as recorded so far. */
async function activeByView(replay: Replay): Promise<Record<string, Recording>> {
  const out: Record<string, Recording> = {};
  for (const s of await replay.store.listActive()) {
    const r = await replay.store.getActive(s.id);
    if (r) out[r.view] = r;
  }
  return out;
}

async function stored(replay: Replay): Promise<Recording[]> {
  return replay.store.listRecordings({ sort: "startedAt", order: "asc" });
}

type Of<K extends ReplayEvent["kind"]> = Extract<ReplayEvent, { kind: K }>;
const as = <K extends ReplayEvent["kind"]>(event: ReplayEvent, kind: K): Of<K> => {
  assert.is(event.kind, kind);
  return event as Of<K>;
};

// ---------------------------------------------------------------- tests

test("the first render is a mount: view, URL, route and query params, session data, initial assigns", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app, { "x-user": "u-42" });
    const res = await browser.fetch("/items/7?tab=info&count=3");
    assert.is(res.status, 200);
    assert.ok(browser.cookie, "sets the session cookie");
    assert.match(res.headers.get("set-cookie")!, /HttpOnly/i);
    const { ItemPage: rec } = await activeByView(replay);
    assert.ok(rec, "an active recording of ItemPage");
    assert.is(rec.events.length, 1);
    const mount = as(rec.events[0], "mount");
    assert.is(rec.view, "ItemPage");
    assert.is(mount.url, "http://localhost/items/7?tab=info&count=3");
    assert.is(rec.url, mount.url);
    assert.equal(mount.params, { tab: "info", count: "3", id: "7" });
    assert.equal(mount.session, { user: "u-42" });
    assert.equal(mount.assigns, { title: "Item 7", count: 3, tags: ["a", "b"] });
    assert.is(mount.t, 0);
    assert.is(rec.sessionKey, shortHash(browser.sid), "grouped by a hash of the cookie");
    assert.not.ok(rec.sessionKey.includes(browser.sid), "the cookie itself is not stored");
  } finally {
    await replay.close();
  }
});

test("a later GET is params + a render of only the changed keys; a key that disappears is in removed", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    await browser.fetch("/items/7?note=hello");
    await browser.fetch("/items/7?note=hello&count=5");
    await browser.fetch("/items/7?count=5");
    await browser.fetch("/items/7?count=5&tag=x,y");
    const { ItemPage: rec } = await activeByView(replay);
    assert.equal(rec.events.map((e) => e.kind), ["mount", "params", "render", "params", "render", "params", "render"]);
    const p1 = as(rec.events[1], "params");
    assert.is(p1.url, "http://localhost/items/7?note=hello&count=5");
    assert.equal(p1.params, { note: "hello", count: "5", id: "7" });
    const r1 = as(rec.events[2], "render");
    assert.equal(r1.changed, { count: 5 }, "only count changed");
    assert.equal(r1.removed, []);
    assert.is(r1.full, false);
    const r2 = as(rec.events[4], "render");
    assert.equal(r2.changed, {});
    assert.equal(r2.removed, ["note"]);
    assert.is(r2.full, false);
    const r3 = as(rec.events[6], "render");
    assert.equal(r3.changed, { tags: ["x", "y"] });
    // Reconstructing gives back each served state.
    const timeline = new Timeline(rec);
    assert.equal(timeline.assignsOf(1), { title: "Item 7", count: 5, tags: ["a", "b"], note: "hello" });
    assert.equal(timeline.assignsOf(2), { title: "Item 7", count: 5, tags: ["a", "b"] });
    assert.equal(timeline.assignsOf(3), { title: "Item 7", count: 5, tags: ["x", "y"] });
    for (let i = 1; i < rec.events.length; i++) assert.ok(rec.events[i].t >= rec.events[i - 1].t);
  } finally {
    await replay.close();
  }
});

test("non-GET requests are events named by header, by the _event field, else by method and route pattern", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    await browser.fetch("/items/9");
    await browser.fetch("/items/9", {
      method: "POST",
      headers: { "x-replay-event": "save-item" },
      body: new URLSearchParams({ count: "1", comment: "first" }),
    });
    await browser.fetch("/items/9", { method: "POST", body: new URLSearchParams({ _event: "increment", count: "2" }) });
    await browser.fetch("/items/9", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ count: 3, nested: { ok: true, list: [1, 2] } }),
    });
    // The header wins over the field.
    await browser.fetch("/items/9", {
      method: "POST",
      headers: { "x-replay-event": "from-header" },
      body: new URLSearchParams({ _event: "from-field", count: "4" }),
    });
    const { ItemPage: rec } = await activeByView(replay);
    assert.equal(rec.events.map((e) => e.kind), ["mount", "event", "render", "event", "render", "event", "render", "event", "render"]);
    const e1 = as(rec.events[1], "event");
    assert.is(e1.name, "save-item");
    assert.equal(e1.params, { count: "1", comment: "first" });
    const e2 = as(rec.events[3], "event");
    assert.is(e2.name, "increment");
    assert.equal(e2.params, { _event: "increment", count: "2" });
    const e3 = as(rec.events[5], "event");
    assert.is(e3.name, "POST /items/:id");
    assert.equal(e3.params, { count: 3, nested: { ok: true, list: [1, 2] } });
    assert.is(as(rec.events[7], "event").name, "from-header");
    assert.equal(as(rec.events[8], "render").changed, { count: 4 });
    assert.equal(rec.eventNames.sort(), ["POST /items/:id", "from-header", "increment", "save-item"]);
  } finally {
    await replay.close();
  }
});

test("post/redirect/get: a post that renders nothing is an event on the recording of the Referer's path (the latest without a Referer)", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    await browser.fetch("/items/3");
    await browser.fetch("/sidebar");
    await browser.fetch("/items/3?count=1"); // ItemPage is now the latest
    const toggle = (referer?: string, field = "x") =>
      browser.fetch("/items/3/toggle", {
        method: "POST",
        headers: referer ? { referer } : {},
        body: new URLSearchParams({ which: field }),
      });
    const redirected = await toggle("http://localhost/sidebar", "from-sidebar");
    assert.is(redirected.status, 303);
    await toggle("http://localhost/items/3?count=1", "from-item");
    await toggle(undefined, "no-referer");
    // Posted from a page that is not a recorded view (an admin page, say): not this session's recordings' business.
    await toggle("http://localhost/elsewhere", "unknown-referer");
    const { ItemPage: item, Sidebar: side } = await activeByView(replay);
    const events = (rec: Recording) => rec.events.filter((e) => e.kind === "event").map((e) => e as Of<"event">);
    assert.equal(events(side).map((e) => [e.name, e.params.which]), [["POST /items/:id/toggle", "from-sidebar"]]);
    assert.equal(events(item).map((e) => [e.name, e.params.which]), [
      ["POST /items/:id/toggle", "from-item"],
      ["POST /items/:id/toggle", "no-referer"],
    ]);
    assert.is(side.events.at(-1)!.kind, "event", "no render follows: the redirect's GET will record it");
  } finally {
    await replay.close();
  }
});

test("info records a type marker on the session's latest recording, or on the view given", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    await browser.fetch("/sidebar");
    await browser.fetch("/items/1");
    const pong = await browser.fetch("/ping");
    assert.is(pong.body, "pong");
    const { ItemPage: item, Sidebar: side } = await activeByView(replay);
    assert.equal(item.events.map((e) => e.kind), ["mount", "info"]);
    assert.is(as(item.events[1], "info").type, "tick");
    assert.equal(side.events.map((e) => e.kind), ["mount", "info"]);
    assert.is(as(side.events[1], "info").type, "sidebar-push");
  } finally {
    await replay.close();
  }
});

test("end(view) ends one recording, end() all of the session; the next render mounts a new recording", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    await browser.fetch("/items/1");
    await browser.fetch("/items/1?count=1");
    await browser.fetch("/sidebar");
    await browser.fetch("/sidebar?open=1");
    await browser.fetch("/end/sidebar", { method: "POST" });
    await replay.flush();
    let saved = await stored(replay);
    assert.equal(saved.map((r) => r.view), ["Sidebar"]);
    assert.equal(saved[0].events.map((e) => e.kind), ["mount", "params", "render"]);
    assert.equal((await replay.store.listActive()).map((s) => s.view), ["ItemPage"]);

    await browser.fetch("/sidebar");
    await browser.fetch("/sidebar", { method: "POST" });
    const active = await activeByView(replay);
    assert.ok(active.Sidebar.id !== saved[0].id, "a new recording");
    assert.is(active.Sidebar.events[0].kind, "mount");

    await browser.fetch("/end/all", { method: "POST" });
    await replay.flush();
    assert.equal(await replay.store.listActive(), []);
    saved = await stored(replay);
    assert.is(saved.length, 3);
    assert.equal(new Set(saved.map((r) => r.sessionKey)).size, 1, "one session");
    // end() wrote nothing of its own: the stored events are exactly the recorded ones.
    assert.equal(saved.find((r) => r.view === "ItemPage")!.events.map((e) => e.kind), ["mount", "params", "render"]);
  } finally {
    await replay.close();
  }
});

test("two views in one session are two recordings with the same sessionKey; another browser is another session", async () => {
  const { replay, app } = makeApp();
  try {
    const one = new Browser(app);
    const two = new Browser(app);
    for (const b of [one, two]) {
      await b.fetch("/items/1");
      await b.fetch("/items/1?count=1");
      await b.fetch("/sidebar");
      await b.fetch("/sidebar?open=1");
    }
    await replay.close();
    const saved = await stored(replay);
    assert.is(saved.length, 4);
    const byKey = new Map<string, string[]>();
    for (const r of saved) byKey.set(r.sessionKey, [...(byKey.get(r.sessionKey) ?? []), r.view].sort());
    assert.equal([...byKey.keys()].sort(), [shortHash(one.sid), shortHash(two.sid)].sort());
    for (const views of byKey.values()) assert.equal(views, ["ItemPage", "Sidebar"]);
    assert.is(new Set(saved.map((r) => r.id)).size, 4);
  } finally {
    await replay.close();
  }
});

test("rendering a view that is not registered fails with a clear error", async () => {
  const { replay, app } = makeApp();
  try {
    const res = await new Browser(app).fetch("/unregistered");
    assert.is(res.status, 500);
    assert.match(res.body, "Unregistered is not registered");
    assert.match(res.body, "createReplay({ views })");
    assert.throws(() => createReplay({ views: {} }), /give the views/);
  } finally {
    await replay.close();
  }
});

test("maxEvents: the recording is marked truncated and records nothing more, while requests go on", async () => {
  const { replay, app } = makeApp({ maxEvents: 5 });
  try {
    const browser = new Browser(app);
    for (let i = 0; i < 6; i++) assert.is((await browser.fetch(`/items/1?count=${i}`)).status, 200);
    await browser.fetch("/items/1", { method: "POST", body: new URLSearchParams({ count: "9" }) });
    await replay.close();
    const [rec] = await stored(replay);
    assert.is(rec.truncated, true);
    assert.is(rec.eventCount, 5);
    assert.equal(rec.events.map((e) => e.kind), ["mount", "params", "render", "params", "render"]);
    assert.equal(rec.eventNames, []);
  } finally {
    await replay.close();
  }
});

test("sampleRate 0 records nothing and still serves every page", async () => {
  const { replay, app } = makeApp({ sampleRate: 0 });
  try {
    const browser = new Browser(app);
    const first = await browser.fetch("/items/1");
    assert.is(first.status, 200);
    assert.match(first.body, "<h1>Item 1</h1>");
    assert.is(first.headers.get("x-recorded"), "false");
    await browser.fetch("/items/1?count=1");
    await browser.fetch("/items/1", { method: "POST", body: new URLSearchParams({ count: "2" }) });
    await browser.fetch("/ping");
    const stats = await replay.flush();
    assert.is(stats.frames, 0, "not a single frame reached the ring");
    await replay.close();
    assert.equal(await stored(replay), []);
  } finally {
    await replay.close();
  }
});

test("sampleRate 0.5 records a deterministic share of sessions: the same cookie always gets the same decision", async () => {
  const { replay, app } = makeApp({ sampleRate: 0.5 });
  try {
    const browsers = Array.from({ length: 40 }, () => new Browser(app));
    const decisions: boolean[] = [];
    for (const b of browsers) {
      const seen = new Set<string | null>();
      seen.add((await b.fetch("/items/1")).headers.get("x-recorded"));
      seen.add((await b.fetch("/items/1?count=1")).headers.get("x-recorded"));
      seen.add((await b.fetch("/items/1", { method: "POST", body: new URLSearchParams({ count: "2" }) })).headers.get("x-recorded"));
      assert.is(seen.size, 1, "one decision for the whole session");
      const recorded = seen.has("true");
      assert.is(recorded, sampled(b.sid, 0.5), "decided by the cookie alone");
      decisions.push(recorded);
    }
    const recordedCount = decisions.filter(Boolean).length;
    assert.ok(recordedCount > 0 && recordedCount < browsers.length, `a share, not all or none (${recordedCount}/40)`);
    await replay.close();
    const saved = await stored(replay);
    assert.is(saved.length, recordedCount);
    assert.equal(
      saved.map((r) => r.sessionKey).sort(),
      browsers.filter((_, i) => decisions[i]).map((b) => shortHash(b.sid)).sort(),
    );
  } finally {
    await replay.close();
  }
});

test("the served HTML is exactly what the player renders for every frame (doctype added to full documents)", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    const served: Record<string, string[]> = { ItemPage: [], Sidebar: [] };
    served.ItemPage.push((await browser.fetch("/items/5?note=<b>&amp;\"quoted\"")).body);
    served.Sidebar.push((await browser.fetch("/sidebar")).body);
    served.ItemPage.push((await browser.fetch("/items/5?count=2&tag=é,日本,😀")).body);
    served.ItemPage.push((await browser.fetch("/items/5", { method: "POST", body: new URLSearchParams({ count: "3" }) })).body);
    served.Sidebar.push((await browser.fetch("/sidebar?open=1")).body);
    served.Sidebar.push((await browser.fetch("/sidebar", { method: "POST" })).body);
    served.ItemPage.push((await browser.fetch("/items/5?note=again")).body);
    await replay.close();
    const saved = await stored(replay);
    assert.is(saved.length, 2);
    for (const recording of saved) {
      const player = replay.player(recording);
      const bodies = served[recording.view];
      assert.is(player.frameCount, bodies.length, `${recording.view}: one frame per served page`);
      for (let i = 0; i < bodies.length; i++) {
        const frame = player.renderFrame(i);
        const expected = recording.view === "ItemPage" ? "<!DOCTYPE html>" + frame.html : frame.html;
        assert.is(bodies[i], expected, `${recording.view} frame ${i}`);
        assert.is(frame.identical, true, "the stored hash agrees");
      }
      assert.equal(player.fidelity().differing, []);
    }
    assert.ok(served.ItemPage[0].startsWith("<!DOCTYPE html><html"));
    assert.ok(served.Sidebar[0].startsWith("<aside"));
  } finally {
    await replay.close();
  }
});

test("keyframeInterval 5: every 5th render is stored in full, the others as deltas", async () => {
  const { replay, app } = makeApp({ keyframeInterval: 5 });
  try {
    const browser = new Browser(app);
    const served: string[] = [(await browser.fetch("/items/2?note=a long note that makes a full snapshot costly")).body];
    for (let i = 1; i <= 12; i++) {
      served.push((await browser.fetch("/items/2?note=a long note that makes a full snapshot costly", {
        method: "POST",
        body: new URLSearchParams({ count: String(i) }),
      })).body);
    }
    await replay.close();
    const [rec] = await stored(replay);
    const renders = rec.events.filter((e) => e.kind === "render") as Of<"render">[];
    assert.is(renders.length, 12);
    assert.equal(renders.map((r) => r.full), renders.map((_, i) => (i + 1) % 5 === 0));
    assert.equal(renders[4].changed, { title: "Item 2", count: 5, tags: ["a", "b"], note: "a long note that makes a full snapshot costly" });
    assert.equal(renders[5].changed, { count: 6 });
    const player = replay.player(rec);
    served.forEach((body, i) => assert.is(body, "<!DOCTYPE html>" + player.renderFrame(i).html));
  } finally {
    await replay.close();
  }
});

test("odd assigns (cycles, a 5 MB string, BigInt, Map, Set, Date, huge values) never fail the request and round-trip as promised", async () => {
  function Odd(props: Record<string, unknown>) {
    return h("p", null, `${String(props.big)} ${(props.map as Map<string, unknown>).size} ${(props.when as Date).toISOString()} ${String(props.count)}`);
  }
  const replay = createReplay({ views: { Odd }, storage: memoryStorage() });
  try {
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    const oddProps = (count: number) => {
      const cyclic: Record<string, unknown> = { name: "loop" };
      cyclic.self = cyclic;
      const list: unknown[] = [1];
      list.push(list);
      return {
        count,
        cyclic,
        list,
        huge: "x".repeat(5 * 1024 * 1024),
        big: 12345678901234567890n,
        map: new Map<unknown, unknown>([["a", 1], [2, { deep: new Date(5) }]]),
        set: new Set(["s", 1]),
        when: new Date("2024-02-29T12:00:00.000Z"),
        nothing: undefined,
        nan: NaN,
        bytes: new Uint8Array([1, 2, 255]),
        // 1,000 strings of 9,000 characters: within every sanitizer limit, too big as one assign.
        bulky: Array.from({ length: 1000 }, (_, i) => String(i).padEnd(9000, "y")),
      };
    };
    app.get("/odd", (c) => c.var.replay.render(Odd, oddProps(Number(c.req.query("n") ?? 0))));
    const browser = new Browser(app);
    const first = await browser.fetch("/odd");
    assert.is(first.status, 200);
    assert.is(first.body, "<p>12345678901234567890 2 2024-02-29T12:00:00.000Z 0</p>");
    assert.is((await browser.fetch("/odd?n=1")).status, 200);
    assert.is(replay.engine.recorderErrors, 0);
    await replay.close();

    const [rec] = await stored(replay);
    const mount = as(rec.events[0], "mount");
    const a = mount.assigns as Record<string, any>;
    assert.equal(a.cyclic, { name: "loop", self: "[Circular]" });
    assert.equal(a.list, [1, "[Circular]"]);
    assert.is(a.huge.length, 10_000 + `… [${5 * 1024 * 1024 - 10_000} more characters]`.length);
    assert.ok(a.huge.endsWith(`… [${5 * 1024 * 1024 - 10_000} more characters]`));
    assert.is(typeof a.big, "bigint");
    assert.is(a.big, 12345678901234567890n);
    assert.ok(a.map instanceof Map);
    assert.equal([...a.map.keys()], ["a", 2]);
    assert.ok(a.map.get(2).deep instanceof Date && a.map.get(2).deep.getTime() === 5);
    assert.ok(a.set instanceof Set);
    assert.equal([...a.set], ["s", 1]);
    assert.ok(a.when instanceof Date);
    assert.is(a.when.toISOString(), "2024-02-29T12:00:00.000Z");
    assert.ok(Number.isNaN(a.nan));
    assert.equal([...a.bytes], [1, 2, 255]);
    assert.ok(a.bytes instanceof Uint8Array);
    assert.match(a.bulky, /^\[Omitted: \d+ characters, over maxValueChars\]$/);
    // The second render changed only count: the odd values encode the same way twice.
    const render = as(rec.events[2], "render");
    assert.equal(render.changed, { count: 1 });
    assert.equal(replay.player(rec).renderFrame(1).html, "<p>12345678901234567890 2 2024-02-29T12:00:00.000Z 1</p>");
  } finally {
    await replay.close();
  }
});

test.run();
