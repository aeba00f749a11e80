/**
 * Islands without a browser (tests/browser_islands.test.ts has the browser):
 * the endpoint refuses what is not the session's own active recording, too big
 * or too fast; what it accepts lands as island events on the recording's time
 * base, sanitized, and replays with the island in its recorded state, a wrong
 * hash flagged; the canonical form reads server HTML the way it is meant to;
 * the client stays under 2 KB gzipped and the demo's bundle is up to date; the
 * scripted signup session with its island grows by at most 30%.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { playScript, ScriptedBrowser, signupScript } from "../bench/session.ts";
import { withVirtualClock } from "../bench/lib.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { PasswordIsland, rulesMet } from "../examples/demo/islands.tsx";
import { shortHash } from "../format/ids.ts";
import { canonicalHtml, canonicalIsland } from "../islands/canonical.ts";
import { withIslandStates } from "../islands/client.ts";
import { buildIslandBundle, demoBundleFile, demoBundleModule, demoEntry } from "../islands/build.ts";
import { fileStorage, memoryStorage, type Recording, type Replay } from "../mod.ts";

const ISLAND = "/__replay/island";

/** The hash the browser would send for the password field in this state. */
function fieldHash(state: { rules?: number; shown?: boolean }): string {
  const html = withIslandStates({ "password-field": state }, () => renderToString(h(PasswordIsland, {})));
  return shortHash(canonicalIsland(html, "password-field")!);
}

async function visit(app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> }) {
  const browser = new ScriptedBrowser(app);
  await browser.send({ at: 0, method: "GET", path: "/signup" });
  await browser.send({ at: 0, method: "POST", path: "/signup/validate", form: { name: "Ada", email: "", password: "x" }, headers: { "x-replay-event": "validate" } });
  return browser;
}

function post(app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> }, browser: ScriptedBrowser | undefined, body: unknown, headers: Record<string, string> = {}) {
  const h = new Headers(headers);
  if (browser) h.set("cookie", [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
  return app.request(ISLAND, { method: "POST", headers: h, body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function only(replay: Replay, view: string): Promise<Recording> {
  await replay.close();
  const summaries = await replay.store.listRecordingSummaries({ view });
  assert.is(summaries.length, 1, `one ${view} recording`);
  return replay.store.getRecording(summaries[0].id);
}

test("forged, foreign, oversized, malformed and too fast posts are refused", async () => {
  const { app, replay } = createDemoApp({ storage: memoryStorage(), beaconGraceMs: 0 });
  const browser = await visit(app);
  const good = { p: "/signup", n: 1000, e: [["password-field", 990, { rules: 1 }, fieldHash({ rules: 1 })]] };

  assert.is((await post(app, undefined, good)).status, 403, "no session cookie");
  const forged = new ScriptedBrowser(app);
  forged.cookies.set("hono_replay", "abcdefghijklmnopqrstuvwx!SignupForm~lzzzzzzz-abcdefabcdef~1~" + Date.now().toString(36) + "~~x");
  assert.is((await post(app, forged, good)).status, 403, "a made-up cookie names no recording of this page");
  const left = await visit(app);
  await left.send({ at: 0, method: "POST", path: "/__replay/leave" });
  assert.is((await post(app, left, good)).status, 403, "the page went away (beacon, grace over): no active recording");
  assert.is((await post(app, browser, good, { origin: "https://evil.example" })).status, 403, "cross-origin");
  assert.is((await post(app, browser, good, { "sec-fetch-site": "cross-site" })).status, 403, "cross-site fetch metadata");
  const big = { ...good, e: [["password-field", 990, { note: "x".repeat(20_000) }, "abc"]] };
  assert.is((await post(app, browser, big)).status, 413, "over maxBodyBytes");
  const many = { ...good, e: Array.from({ length: 65 }, () => good.e[0]) };
  assert.is((await post(app, browser, many)).status, 413, "over maxEntries");
  assert.is((await post(app, browser, "{not json")).status, 400, "malformed");
  assert.is((await post(app, browser, { ...good, e: [["../x", 1, {}, "abc"]] })).status, 400, "bad island name");

  const statuses: number[] = [];
  for (let i = 0; i < 14; i++) statuses.push((await post(app, browser, good)).status);
  assert.ok(statuses.slice(0, 10).every((s) => s === 204), `a burst is accepted: ${statuses}`);
  assert.ok(statuses.includes(429), `then the rate limit answers 429: ${statuses}`);

  await replay.close();
  const recordings = await Promise.all((await replay.store.listRecordingSummaries({ view: "SignupForm" })).map((s) => replay.store.getRecording(s.id)));
  const islands = recordings.flatMap((r) => r.events).filter((e) => e.kind === "island");
  const recording = { events: recordings.flatMap((r) => r.events) };
  assert.ok(islands.length >= 10 && islands.length <= 11, `only accepted posts were recorded (${islands.length})`);
  assert.not.ok(JSON.stringify(recording.events).includes("xxxxxxxxxx"), "the oversized state is nowhere");
});

test("accepted changes are placed on the recording's time base, sanitized, and replay with their state", async () => {
  const { app, replay } = createDemoApp({ storage: memoryStorage() });
  const start = Date.now();
  const browser = await withVirtualClock(start, async (clock) => {
    const b = new ScriptedBrowser(app);
    await b.send({ at: 0, method: "GET", path: "/signup" });
    clock.set(start + 5_000);
    await b.send({ at: 0, method: "POST", path: "/signup/validate", form: { name: "Ada", email: "", password: "Abcdefgh" }, headers: { "x-replay-event": "validate" } });
    clock.set(start + 6_000);
    // The browser's clock is its own: n is 50,000 there; the changes happened 700 ms and 200 ms before it.
    const res = await post(app, b, {
      p: "/signup",
      n: 50_000,
      e: [
        ["password-field", 49_300, { rules: 3, shown: false, password: "Abcdefgh" }, fieldHash({ rules: 3, shown: false })],
        ["password-field", 49_800, { shown: true }, "wrong1"],
      ],
    });
    assert.is(res.status, 204);
    return b;
  });
  assert.ok(browser);
  const recording = await only(replay, "SignupForm");
  const islands = recording.events.filter((e) => e.kind === "island");
  assert.equal(islands.map((e) => e.t), [5_300, 5_800], "placed by their age at arrival, from the recording start");
  assert.equal(islands[0].kind === "island" && islands[0].state, { rules: 3, shown: false }, "the key that says password is dropped");
  assert.not.ok(JSON.stringify(recording.events).includes("Abcdefgh"));

  const player = replay.player(recording);
  const first = player.renderAt(5_300);
  assert.ok(first.html.includes('<li class="met">✓ 8 characters or more</li><li class="met">✓ a capital letter</li>'), "the island shows its recorded rules");
  assert.is(first.identical, true, "and hashes as the browser did");
  const second = player.renderAt(5_800);
  assert.ok(second.html.includes('type="text"') && second.html.includes(">Hide</button>"), "shown: the field is plain text");
  assert.is(second.identical, false, "a hash that does not match is flagged");
  const served = player.renderAt(5_000);
  assert.is(served.identical, true, "a server frame still compares with what was served");
  assert.equal(player.fidelity().differing, [player.timeline.frameIndexAt(5_800)]);
});

test("the canonical form reads server HTML: entities, void and self-closing tags, styles, order, form state", () => {
  const html = renderToString(
    h("div", null, h("input", { type: "text", value: "secret", disabled: true }), "a<b>&\"c", h("span", { style: { width: "40%", fontSize: 3 }, class: "k" }, "x"), h("br", null)),
  );
  assert.is(
    canonicalHtml(html),
    '<div><input disabled="" type="text"></input>a&lt;b&gt;&amp;"c<span class="k" style="width:40%;font-size:3px">x</span><br></br></div>',
  );
  assert.is(canonicalIsland('<p data-island="a" data-props="{&quot;x&quot;:&quot;&gt;&quot;}"><div><div>in</div></div>tail</p><i>out</i>', "a"), "<div><div>in</div></div>tail");
  assert.is(canonicalIsland("<p>none</p>", "a"), undefined);
});

test("the client is at most 2 KB gzipped, and the demo's bundle is up to date", async () => {
  const entry = join(mkdtempSync(join(tmpdir(), "islands-size-")), "entry.ts");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(entry, `export { island, useRecordedState, hydrateIslands } from ${JSON.stringify(join(process.cwd(), "islands/client.ts"))};\n`);
  const js = await buildIslandBundle(entry, ["preact", "preact/hooks"]);
  const gz = gzipSync(js).length;
  console.log(`  islands client: ${js.length} B minified, ${gz} B gzipped (Preact not counted: the app's own)`);
  assert.ok(gz <= 2048, `${gz} B gzipped`);
  const fresh = demoBundleModule(await buildIslandBundle(demoEntry));
  assert.ok(readFileSync(demoBundleFile, "utf8") === fresh, "examples/demo/islands.bundle.gen.ts is stale: run node --import tsx islands/build.ts");
});

test("the scripted signup session with its island adds at most 30% bytes", async () => {
  const sizes: number[] = [];
  for (const withIsland of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), "islands-session-"));
    const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir }) });
    await replay.ready;
    const steps = signupScript(200, 30_000);
    const browser = new ScriptedBrowser(app);
    const span = steps[steps.length - 1].at;
    const start = Date.now() - span;
    let islandEvents = 0;
    await withVirtualClock(start, async (clock) => {
      let rules = 0;
      let shown = false;
      for (const [i, step] of steps.entries()) {
        clock.set(start + step.at);
        await browser.send(step);
        if (!withIsland || step.method !== "GET" && step.path !== "/signup/validate") continue;
        // What hydrateIslands sends: the state on each page load, then each change (here, one post each).
        const entries: unknown[] = [];
        if (step.method === "GET") entries.push(["password-field", step.at + 40, { shown, rules }, fieldHash({ shown, rules }), 1]);
        else {
          const next = rulesMet(step.form!.password);
          if (next !== rules) entries.push(["password-field", step.at - 5, { rules: (rules = next) }, fieldHash({ shown, rules })]);
          if (i === steps.length - 20 || i === steps.length - 10) entries.push(["password-field", step.at + 30, { shown: (shown = !shown) }, fieldHash({ shown, rules })]);
        }
        if (!entries.length) continue;
        clock.set(start + step.at + 60);
        islandEvents += entries.length;
        assert.is((await post(app, browser, { p: "/signup", n: step.at + 60, e: entries })).status, 204);
      }
    });
    const recording = await only(replay, "SignupForm");
    assert.is(recording.events.filter((e) => e.kind === "island").length, islandEvents);
    if (withIsland) {
      assert.ok(islandEvents >= 6, `${islandEvents} island events`);
      const report = replay.player(recording).fidelity();
      assert.is(report.differing.length, 0, `every frame identical, islands included (${report.identical}/${report.frames})`);
    }
    sizes.push(recording.sizeBytes);
  }
  const ratio = sizes[1] / sizes[0];
  console.log(`  signup session: ${sizes[0]} B without island events, ${sizes[1]} B with them (${ratio.toFixed(3)}×)`);
  assert.ok(ratio <= 1.3, `ratio ${ratio}`);
});

test.run();
