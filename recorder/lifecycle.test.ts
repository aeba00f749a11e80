/**
 * How recordings end: the pagehide beacon (after a grace period, unless the
 * session comes back), the idle timeout, explicit shutdown; and that a session
 * that only loaded a page (a mount, no interaction) is discarded.
 */

import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, memoryStorage, type Recording, type Replay, type ReplayEnv, type ReplayOptions } from "../mod.ts";
import { sleep, waitFor } from "../tests/support/wait.ts";
import { testHooks } from "../internal.ts";

function Counter(props: { count: number }) {
  return h("output", null, String(props.count));
}

function Panel(props: { open: boolean }) {
  return h("section", { "data-open": String(props.open) });
}

function makeApp(options: Partial<ReplayOptions> = {}) {
  const replay = createReplay({ views: { Counter, Panel }, storage: memoryStorage(), ...options });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.get("/counter", (c) => c.var.replay.render(Counter, { count: Number(c.req.query("count") ?? 0) }));
  app.get("/panel", (c) => c.var.replay.render(Panel, { open: c.req.query("open") === "1" }));
  app.get("/health", (c) => c.text("ok"));
  app.get("/push", (c) => {
    c.var.replay.info("tick");
    return c.text("pushed");
  });
  return { replay, app };
}

class Browser {
  cookie = "";
  constructor(private readonly app: Hono<ReplayEnv>) {}
  async fetch(path: string, method = "GET") {
    const res = await this.app.request(path, { method, headers: this.cookie ? { cookie: this.cookie } : {} });
    const set = res.headers.get("set-cookie")?.match(/hono_replay=[a-z0-9]+/)?.[0];
    if (set) this.cookie = set;
    await res.arrayBuffer();
    return res;
  }
  leave() {
    return this.fetch("/__replay/leave", "POST");
  }
}

const until = <T>(probe: () => Promise<T | undefined | false>, what: string) => waitFor(probe, what, 15_000);

async function storedAfterFlush(replay: Replay): Promise<Recording[]> {
  await replay.flush();
  return replay.store.listRecordings({ sort: "startedAt", order: "asc" });
}

test("the pagehide beacon ends the session's recordings once the grace period passes", async () => {
  const { replay, app } = makeApp({ beaconGraceMs: 150 });
  try {
    const browser = new Browser(app);
    await browser.fetch("/counter");
    await browser.fetch("/counter?count=1");
    await browser.fetch("/panel");
    await browser.fetch("/panel?open=1");
    const beacon = await browser.leave();
    assert.is(beacon.status, 204);
    const saved = await until(async () => {
      const r = await storedAfterFlush(replay);
      return r.length === 2 && r;
    }, "both recordings to end after the beacon");
    assert.equal(saved.map((r) => r.view).sort(), ["Counter", "Panel"]);
    assert.equal(await replay.store.listActive(), []);
    assert.equal(saved.find((r) => r.view === "Counter")!.events.map((e) => e.kind), ["mount", "params", "render"]);
  } finally {
    await replay.close();
  }
});

test("a request within the grace period cancels the beacon: the tab did not close", async () => {
  const grace = 300;
  const { replay, app } = makeApp({ beaconGraceMs: grace });
  try {
    const browser = new Browser(app);
    await browser.fetch("/counter");
    await browser.fetch("/counter?count=1");
    await browser.leave(); // e.g. a reload or a same-site navigation
    await browser.fetch("/health"); // any request of the session, even one that renders nothing
    await sleep(grace * 4);
    assert.equal(await storedAfterFlush(replay), [], "nothing ended");
    const [active] = await replay.store.listActive();
    assert.ok(active, "still recording");
    await browser.fetch("/counter?count=2");
    // A later beacon with no request after it does end it.
    await browser.leave();
    const [saved] = await until(async () => {
      const r = await storedAfterFlush(replay);
      return r.length === 1 && r;
    }, "the recording to end after the second beacon");
    assert.is(saved.id, active.id, "the same recording went on");
    assert.equal(saved.events.map((e) => e.kind), ["mount", "params", "render", "params", "render"]);
  } finally {
    await replay.close();
  }
});

test("a beacon without a recorded session is answered and changes nothing", async () => {
  const { replay, app } = makeApp({ beaconGraceMs: 50 });
  try {
    const stranger = new Browser(app);
    assert.is((await stranger.leave()).status, 204);
    const other = new Browser(app);
    await other.fetch("/counter");
    await other.fetch("/counter?count=1");
    await stranger.leave();
    // A witness: a session whose beacon is sent after the stranger's. Once its
    // grace period has ended its recording, the stranger's has passed too.
    const witness = new Browser(app);
    await witness.fetch("/counter");
    await witness.fetch("/counter?count=1");
    await witness.leave();
    await until(async () => (await storedAfterFlush(replay)).length === 1, "the witness's recording to end after its beacon");
    assert.is((await replay.store.listActive()).length, 1, "another session's beacon does not end this one");
  } finally {
    await replay.close();
  }
});

test("a recording idle for idleTimeoutMs is ended and stored; the session's next render starts a new one", async () => {
  const { replay, app } = makeApp({ idleTimeoutMs: 200 });
  try {
    const browser = new Browser(app);
    await browser.fetch("/counter");
    await browser.fetch("/counter?count=1");
    const [first] = await until(async () => {
      const r = await storedAfterFlush(replay);
      return r.length === 1 && r;
    }, "the idle recording to be stored");
    assert.equal(first.events.map((e) => e.kind), ["mount", "params", "render"]);
    assert.equal(await replay.store.listActive(), []);

    await browser.fetch("/counter?count=2");
    await browser.fetch("/counter?count=3");
    const saved = await until(async () => {
      const r = await storedAfterFlush(replay);
      return r.length === 2 && r;
    }, "the second recording to be stored");
    const second = saved.find((r) => r.id !== first.id)!;
    assert.is(second.sessionKey, first.sessionKey, "the same session");
    const mount = second.events[0] as Extract<Recording["events"][number], { kind: "mount" }>;
    assert.is(mount.kind, "mount");
    assert.equal(mount.assigns, { count: 2 });
  } finally {
    await replay.close();
  }
});

test("requests keep a recording alive past idleTimeoutMs in total", async () => {
  const { replay, app } = makeApp({ idleTimeoutMs: 800 });
  // The recorder's clock, moved by the test: 12 requests 100 ms apart take 1.2 s of it and no real time.
  let now = Date.now();
  const hooks = testHooks(replay);
  hooks.useClock(() => now);
  try {
    const browser = new Browser(app);
    await browser.fetch("/counter");
    for (let i = 1; i <= 12; i++) {
      now += 100;
      await browser.fetch(`/counter?count=${i}`);
      hooks.sweepRecorder();
    }
    const active = await replay.store.listActive();
    assert.is(active.length, 1, "each request reset the idle clock");
    // Positive control: past idleTimeoutMs without a request, the same sweep lets it go.
    now += 801;
    hooks.sweepRecorder();
    await replay.flush();
    assert.equal(await replay.store.listActive(), [], "idle: let go and finalized");
    const [rec] = await replay.store.listRecordings();
    assert.is(rec.eventCount, 1 + 2 * 12);
  } finally {
    await replay.close();
  }
});

test("a session that only loaded a page (a mount, nothing else) is discarded", async () => {
  const { replay, app } = makeApp({ beaconGraceMs: 100 });
  try {
    const visitor = new Browser(app);
    await visitor.fetch("/counter");
    await visitor.fetch("/panel");
    // Info is a server push, not the user: it does not make a recording worth keeping.
    await visitor.fetch("/push");
    const user = new Browser(app);
    await user.fetch("/counter");
    await user.fetch("/counter?count=1");
    const before = await replay.flush();
    assert.is(before.active, 3);
    assert.is(before.discarded, 0);
    await visitor.leave();
    const after = await until(async () => {
      const stats = await replay.flush();
      return stats.active === 1 && stats;
    }, "the visitor's recordings to end");
    assert.is(after.discarded, 2, "both of the visitor's recordings were dropped, not stored");
    assert.is(after.finalized, 0);
    assert.equal(await replay.store.listRecordings(), []);
    await replay.close();
    const saved = await replay.store.listRecordings();
    assert.is(saved.length, 1, "only the session with an interaction is kept");
    assert.is(saved[0].view, "Counter");
    assert.is(saved[0].eventCount, 3);
  } finally {
    await replay.close();
  }
});

test("close() ends and stores every active recording", async () => {
  const { replay, app } = makeApp();
  const browsers = Array.from({ length: 5 }, () => new Browser(app));
  for (const b of browsers) {
    await b.fetch("/panel");
    await b.fetch("/panel?open=1");
  }
  assert.is((await replay.store.listActive()).length, 5);
  await replay.close();
  const saved = await replay.store.listRecordings();
  assert.is(saved.length, 5);
  assert.ok(saved.every((r) => r.recovered === false && r.eventCount === 3));
});

test.run();
