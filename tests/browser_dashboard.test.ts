/**
 * The dashboard in a real headless Chromium. A person uses the demo's signup
 * form (typing, validated on every keystroke); someone else watches the session
 * live from /replay, then finds it with the filters and plays it back: play,
 * pause, scrub, speeds, stepping, the keyboard, ?t=; at every step the iframe
 * shows the frame the player is at and the inspector its assigns. A recording
 * of a page that renders raw HTML from its props replays without running any of
 * it. Screenshots of the index and the player go to test-artifacts/.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { h } from "preact";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { fileStorage, type Replay, Timeline } from "../mod.ts";
import { createDashboard } from "../dashboard/mod.ts";
import { idleGaps } from "../dashboard/shared.ts";
import { createDemoApp, views } from "../examples/demo/app.tsx";
import { type Served, serve } from "../examples/demo/serve.ts";
import { artifact, CHROMIUM, chromiumAvailable, launchChromium } from "./support/browser.ts";
import { waitFor } from "./support/wait.ts";

/** A page that puts its props into the document unescaped: the kind of bug a recording may carry. */
function RawNote(props: { text: string }) {
  const beacon = `addEventListener("pagehide", () => navigator.sendBeacon("/__replay/leave"))`;
  return h("html", null, h("body", null, h("h1", null, "Note"), h("div", { id: "note", dangerouslySetInnerHTML: { __html: props.text } }), h("script", { dangerouslySetInnerHTML: { __html: beacon } })));
}

const PAYLOAD = `<img src="/x.png" onerror="window.top.__pwned=(window.top.__pwned||0)+1;alert('img')">` +
  `<script>window.top.__pwned=1;alert('script')</script><svg onload="alert('svg')"></svg><b>bold note</b>`;

const ctx: {
  dir: string;
  replay: Replay;
  server: Served;
  origin: string;
  browser: Browser;
  admin: BrowserContext;
  dash: Page;
  recordingId: string;
  timeline: Timeline;
} = {} as never;

const available = chromiumAvailable();
if (!available) console.log(`SKIP browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
const browserTest = available ? test : test.skip;

test.before(async () => {
  if (!available) return;
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-browser-"));
  const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir }), views: { ...views, RawNote }, beaconGraceMs: 300 });
  app.get("/note", (c) => c.var.replay.render(RawNote, { text: c.req.query("text") ?? "" }));
  // A second dashboard that styles frames with the app's stylesheet, through the `head` option.
  app.get("/app.css", (c) => c.body("body { background: rgb(1, 2, 3) }", 200, { "content-type": "text/css" }));
  app.route("/styled", createDashboard(replay, { dangerouslyAllowOpenAccess: true, head: '<link rel="stylesheet" href="/app.css">' }));
  ctx.dir = dir;
  ctx.replay = replay;
  ctx.server = await serve(app.fetch, 0);
  ctx.origin = `http://127.0.0.1:${ctx.server.port}`;
  ctx.browser = await launchChromium();
  ctx.admin = await ctx.browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  ctx.dash = await ctx.admin.newPage();
  ctx.dash.on("pageerror", (e) => console.error("dashboard page error:", e.message));
});

test.after(async () => {
  if (!available) return;
  await ctx.browser?.close();
  await ctx.replay?.close();
  await ctx.server?.close();
});

// ---- helpers ----

const front = 'iframe[data-front="true"]';

/** The player's state, as its root element reports it. */
async function state(page: Page) {
  const d = await page.locator("#player").evaluate((el) => ({ ...(el as HTMLElement).dataset }));
  return { t: Number(d.t), frame: Number(d.frame), playing: d.playing === "true", speed: Number(d.speed), following: d.following === "true" };
}

/**
 * Waits until the shown iframe holds the frame the player is at, then checks
 * the frame's content and the inspector against the recording's own assigns.
 */
async function expectShown(page: Page, timeline: Timeline, note = ""): Promise<number> {
  await page.waitForFunction((sel) => {
    const player = document.getElementById("player");
    const frame = document.querySelector(sel) as HTMLElement | null;
    return !!player && !!frame && player.dataset.frame === frame.dataset.frameIndex && !document.querySelector(".loading");
  }, front);
  const { t, frame: i } = await state(page);
  assert.is(i, Math.max(0, timeline.frameIndexAt(t)), `${note}: the frame at t=${t}`);
  const a = timeline.assignsOf(i) as { form: { name: string; email: string }; checks: number };
  const frame = page.frameLocator(front);
  assert.is(await frame.locator('input[name="name"]').getAttribute("value"), a.form.name, `${note}: the name field in frame ${i}`);
  assert.is(await frame.locator("#status").textContent(), `${a.checks} server checks so far`, `${note}: frame ${i}`);
  assert.is(await page.locator('#inspector tr[data-key="checks"] pre').textContent(), String(a.checks), `${note}: inspector checks`);
  assert.is(
    await page.locator('#inspector tr[data-key="form"] pre').textContent(),
    `{ name: ${JSON.stringify(a.form.name)}, email: ${JSON.stringify(a.form.email)} }`,
    `${note}: inspector form`,
  );
  const events = timeline.recording.events;
  let current = -1;
  for (let e = 0; e < events.length && events[e].t <= t; e++) current = e;
  assert.is(await page.locator("#event-list .event.current").getAttribute("data-index"), String(current), `${note}: the event list follows`);
  return i;
}

/**
 * Leaves the page: its pagehide beacon ends the recording. The context closes
 * once the server has seen the beacon (closing at once can cancel it).
 */
async function leave(context: BrowserContext, page: Page, view: string) {
  await page.goto("about:blank");
  await waitFor(async () => !(await ctx.replay.store.listActive()).some((s) => s.view === view), `the beacon to end the ${view} recording`, 15_000, 50);
  await context.close();
}

/** Row `i` of the (virtualized) event list, scrolled into view. */
async function eventRow(page: Page, i: number) {
  await page.locator("#event-list").evaluate((el, top) => void (el.scrollTop = top), Math.max(0, i * 26 - 100));
  const row = page.locator(`#event-list .event[data-index="${i}"]`);
  await row.waitFor();
  return row;
}

/** Where → and ← go from `t`: the next (previous) distinct event time, as the player steps. */
function stepper(timeline: Timeline) {
  const events = timeline.recording.events;
  const at = (t: number) => events.filter((e) => e.t <= t).length - 1;
  return {
    next: (t: number) => (at(t) + 1 < events.length ? events[at(t) + 1].t : timeline.recording.durationMs),
    prev: (t: number) => (at(t - 1) >= 0 ? events[at(t - 1)].t : 0),
  };
}

// ---- the session ----

browserTest("a person types into the signup form; the dashboard shows the session live, on the index and in the player", async () => {
  const user = await ctx.browser.newContext();
  const form = await user.newPage();
  await form.goto(`${ctx.origin}/signup`);
  await form.locator('input[name="name"]').pressSequentially("Ada", { delay: 70 });
  await form.waitForFunction(() => document.getElementById("status")?.textContent === "3 server checks so far");

  // The index lists it under "active now", and keeps it current without a reload.
  const dash = ctx.dash;
  await dash.goto(`${ctx.origin}/replay`);
  await dash.waitForSelector("#active-root[data-ready]");
  const row = dash.locator("#active tbody tr").first();
  await row.waitFor();
  assert.is(await row.locator("td").nth(1).textContent(), "SignupForm");
  const eventsBefore = Number(await row.locator("td.num").textContent());
  await form.locator('input[name="name"]').pressSequentially(" L", { delay: 70 });
  await dash.waitForFunction((n) => Number(document.querySelector("#active tbody tr td.num")?.textContent) > n, eventsBefore);
  ctx.recordingId = (await row.getAttribute("data-id"))!;

  // Its player follows it: what the person types appears in the replayed frame.
  await row.locator("a").click();
  await dash.waitForSelector("#player-root[data-ready]");
  assert.is((await state(dash)).following, true, "an active recording opens at the live edge");
  assert.is(await dash.locator("#live").getAttribute("aria-pressed"), "true");
  await form.locator('input[name="name"]').pressSequentially("ovelace", { delay: 70 });
  await dash.frameLocator(front).locator('input[name="name"][value="Ada Lovelace"]').waitFor();
  await dash.locator('#inspector tr[data-key="form"] pre', { hasText: '"Ada Lovelace"' }).waitFor();
  // A pause longer than the idle threshold (2 s), for "skip idle" to skip later.
  await form.waitForTimeout(2_600);
  await form.locator('input[name="email"]').pressSequentially("ada@example.com", { delay: 50 });
  await dash.frameLocator(front).locator('input[name="email"][value="ada@example.com"]').waitFor();
  await form.waitForFunction(() => document.getElementById("status")?.textContent === "27 server checks so far");

  // The person leaves: the recording ends, and the player turns from live to a finalized recording.
  await leave(user, form, "SignupForm");
  await dash.locator("#live").waitFor({ state: "detached", timeout: 20_000 });
  const recording = await ctx.replay.store.getRecording(ctx.recordingId);
  ctx.timeline = new Timeline(recording);
  assert.is(ctx.timeline.frames.length, 28, "the mount and a render per keystroke");
  assert.is(await dash.locator("#frame-pos").textContent(), "frame 28 / 28");
  await expectShown(dash, ctx.timeline, "after the live session");
});

browserTest("the index: filter to the recording, with its fidelity; a screenshot", async () => {
  const dash = ctx.dash;
  await dash.goto(`${ctx.origin}/replay`);
  await dash.selectOption('select[name="view"]', "SignupForm");
  await dash.fill('input[name="event"]', "validate");
  await dash.fill('input[name="minEvents"]', "10");
  await Promise.all([dash.waitForURL(/view=SignupForm/), dash.locator("#filters button[type=submit]").click()]);
  const url = new URL(dash.url());
  assert.is(url.searchParams.get("event"), "validate");
  assert.is(url.searchParams.get("minEvents"), "10");
  const rows = dash.locator("#recordings tbody tr");
  assert.is(await rows.count(), 1);
  assert.is(await rows.first().getAttribute("data-id"), ctx.recordingId);
  await dash.locator("#recordings td.fidelity.ok").waitFor();
  assert.is(await dash.locator("#recordings td.fidelity").textContent(), "✓ all 28 identical");
  assert.is(await rows.first().locator("td.num").nth(1).textContent(), String(ctx.timeline.recording.events.length));
  // Another filter that excludes it.
  await dash.goto(`${ctx.origin}/replay?view=TodoList`);
  assert.is(await dash.locator("#recordings tbody tr").count(), 0);
  await dash.goto(`${ctx.origin}/replay?view=SignupForm&event=validate`);
  await dash.locator("#recordings td.fidelity.ok").waitFor();
  await dash.screenshot({ path: artifact("dashboard-index.png"), fullPage: true });
});

browserTest("the player: play, pause, scrub, speeds, stepping, the keyboard, the event list, ?t=", async () => {
  const dash = ctx.dash;
  const timeline = ctx.timeline;
  const last = timeline.frames.length - 1;
  await dash.locator(`#recordings tr[data-id="${ctx.recordingId}"] a`).click();
  await dash.waitForSelector("#player-root[data-ready]");
  assert.is((await state(dash)).frame, 0);
  await expectShown(dash, timeline, "opened");

  // Play at 2×, pause part way.
  await dash.locator('.speed[data-speed="2"]').click();
  assert.is(await dash.locator('.speed[data-speed="2"]').getAttribute("aria-pressed"), "true");
  assert.is(await dash.locator('.speed[data-speed="1"]').getAttribute("aria-pressed"), "false");
  await dash.locator("#play").click();
  await dash.waitForFunction(() => Number(document.getElementById("player")?.dataset.frame) >= 4);
  await dash.locator("#play").click();
  let s = await state(dash);
  assert.is(s.playing, false);
  assert.is(s.speed, 2);
  assert.ok(s.frame >= 4 && s.frame < last, `paused part way (frame ${s.frame})`);
  await expectShown(dash, timeline, "paused at 2×");
  // The URL is updated by an effect, after the paused frame is drawn: wait for it, then check it.
  await dash.waitForFunction((t) => new URL(location.href).searchParams.get("t") === t, String(Math.round(s.t)), { timeout: 10_000 });
  assert.is(new URL(dash.url()).searchParams.get("t"), String(Math.round(s.t)), "?t= records where playback rests");

  // Scrub: a click on the scrubber seeks to that point of the session.
  const box = (await dash.locator("#scrubber").boundingBox())!;
  await dash.mouse.click(box.x + box.width * 0.3, box.y + 10);
  s = await state(dash);
  assert.ok(Math.abs(s.t - timeline.recording.durationMs * 0.3) <= timeline.recording.durationMs / box.width + 1, `scrubbed to 30% (t=${s.t})`);
  await expectShown(dash, timeline, "scrubbed to 30%");
  // Drag to 80%.
  await dash.mouse.move(box.x + box.width * 0.3, box.y + 10);
  await dash.mouse.down();
  await dash.mouse.move(box.x + box.width * 0.8, box.y + 10, { steps: 5 });
  await dash.mouse.up();
  s = await state(dash);
  assert.ok(Math.abs(s.t - timeline.recording.durationMs * 0.8) <= timeline.recording.durationMs / box.width + 1, `dragged to 80% (t=${s.t})`);
  await expectShown(dash, timeline, "dragged to 80%");

  // Keyboard: Home, → (event by event, until the first keystroke's render), ←, End.
  const events = timeline.recording.events;
  const duration = timeline.recording.durationMs;
  const { next: nextT, prev: prevT } = stepper(timeline);
  await dash.locator("h1").click();
  await dash.keyboard.press("Home");
  assert.is((await state(dash)).t, 0);
  await expectShown(dash, timeline, "Home");
  let t = 0;
  for (let press = 0; press < 4 && (await state(dash)).frame < 1; press++) {
    await dash.keyboard.press("ArrowRight");
    t = nextT(t);
    assert.is((await state(dash)).t, t, "→ goes to the next event");
    await expectShown(dash, timeline, `→ ×${press + 1}`);
  }
  assert.is((await state(dash)).frame, 1, "→ reaches the first keystroke's render");
  assert.is(await dash.frameLocator(front).locator('input[name="name"]').getAttribute("value"), "A");
  assert.is(await dash.locator('#inspector tr.changed[data-key="form"]').count(), 1, "the keys this render changed are highlighted");
  assert.is(await dash.locator('#inspector tr.changed[data-key="submitted"]').count(), 0);
  assert.is(await dash.locator('#diff .diff-entry[data-key="form"] pre.add').textContent(), '{ name: "A", email: "" }', "the diff against the previous frame");
  assert.is(await dash.locator('#diff .diff-entry[data-key="form"] pre.del').textContent(), '{ name: "", email: "" }');
  await dash.keyboard.press("ArrowLeft");
  assert.is((await state(dash)).t, prevT(t), "← goes back one event");
  await expectShown(dash, timeline, "←");
  await dash.keyboard.press("End");
  assert.is(await expectShown(dash, timeline, "End"), last);

  // The buttons step too.
  await dash.locator("#prev").click();
  await dash.locator("#prev").click();
  assert.is((await state(dash)).t, prevT(prevT(duration)));
  assert.ok(await expectShown(dash, timeline, "two steps back") < last);
  await dash.locator("#next").click();
  await dash.locator("#next").click();
  assert.is((await state(dash)).t, nextT(nextT(prevT(prevT(duration)))));
  assert.is(await expectShown(dash, timeline, "two steps forward"), last);

  // Space plays (from the start when at the end) at 8× to the end, and stops there.
  await dash.locator('.speed[data-speed="8"]').click();
  // Watched from before the key: at 8× on a loaded machine, playing can be over before a read after it.
  await dash.evaluate(() => {
    const player = document.getElementById("player")!;
    const seen = window as unknown as { sawPlaying: boolean };
    seen.sawPlaying = false;
    new MutationObserver((records) => (seen.sawPlaying ||= player.dataset.playing === "true" || records.some((r) => r.oldValue === "true")))
      .observe(player, { attributes: true, attributeFilter: ["data-playing"], attributeOldValue: true });
  });
  await dash.keyboard.press("Space");
  await dash.waitForFunction(() => (window as unknown as { sawPlaying: boolean }).sawPlaying);
  assert.is(await dash.evaluate(() => (window as unknown as { sawPlaying: boolean }).sawPlaying), true, "Space started playing");
  await dash.waitForFunction(() => document.getElementById("player")?.dataset.playing === "false");
  s = await state(dash);
  assert.is(s.frame, last);
  assert.is(s.t, timeline.recording.durationMs);
  assert.is(await expectShown(dash, timeline, "played to the end at 8×"), last);
  assert.is(await dash.frameLocator(front).locator('input[name="email"]').getAttribute("value"), "ada@example.com");

  // Space pauses as well as plays; 0.5× plays slowly enough to pause within the first frames.
  await dash.keyboard.press("Home");
  await dash.locator('.speed[data-speed="0.5"]').click();
  await dash.keyboard.press("Space");
  await dash.waitForFunction(() => Number(document.getElementById("player")?.dataset.t) > 0);
  await dash.keyboard.press("Space");
  s = await state(dash);
  assert.is(s.playing, false);
  assert.is(s.speed, 0.5);
  await expectShown(dash, timeline, "0.5×");

  // Skip idle, on by default: the quiet stretch is shaded on the scrubber, and playback jumps over it.
  const gap = events.findIndex((e, i) => i > 0 && e.t - events[i - 1].t > 2_000);
  assert.ok(gap > 0, "the session has an idle stretch");
  assert.is(await dash.locator("#skip-idle").isChecked(), true);
  // One shaded stretch per quiet gap of the recording: the 2.6-s pause, and any the test's own waits
  // (opening the dashboard on a loaded machine) happened to make longer than the threshold.
  const quiet = idleGaps(events);
  assert.ok(quiet.some(([from, to]) => to - from >= 2_500), "the deliberate pause is one of them");
  assert.is(await dash.locator("#scrubber rect.idle").count(), quiet.length);
  assert.ok(((await dash.locator("#density path").getAttribute("d")) ?? "").length > 100, "the density timeline is drawn");
  await (await eventRow(dash, gap - 1)).click();
  await dash.locator('.speed[data-speed="1"]').click();
  await dash.locator("#play").click();
  await dash.waitForFunction((t) => Number(document.getElementById("player")?.dataset.t) >= t, events[gap].t);
  await dash.locator("#play").click();
  const skipped = Number(await dash.locator("#player").getAttribute("data-skipped"));
  assert.ok(skipped > 500, `skipped ${skipped} ms of the ${events[gap].t - events[gap - 1].t} ms gap`);
  await expectShown(dash, timeline, "after the idle stretch");
  await dash.locator("#skip-idle").uncheck();
  assert.is(await dash.locator("#scrubber rect.idle").count(), 0);
  await dash.locator("#skip-idle").check();

  // The event list jumps on click.
  const target = 21;
  await (await eventRow(dash, target)).click();
  assert.is((await state(dash)).t, events[target].t);
  await expectShown(dash, timeline, "clicked an event");

  // ?t= opens the player at that moment.
  const seventh = timeline.frames[7];
  await dash.goto(`${ctx.origin}/replay/r/${ctx.recordingId}?t=${seventh.t}`);
  await dash.waitForSelector("#player-root[data-ready]");
  assert.is(await expectShown(dash, timeline, "?t="), 7);
  assert.is(await dash.frameLocator(front).locator('input[name="name"]').getAttribute("value"), "Ada Lov");

  await dash.locator(`#event-list .event[data-index="${seventh.eventIndex}"]`).waitFor();
  await dash.screenshot({ path: artifact("dashboard-player.png"), fullPage: true });
});

browserTest("reopening a finalized recording plays from the browser's IndexedDB cache, without fetching frames", async () => {
  const dash = ctx.dash;
  const frameRequests: string[] = [];
  const onRequest = (r: { url(): string }) => void (r.url().includes("/frames") && frameRequests.push(r.url()));
  dash.on("request", onRequest);
  try {
    await dash.goto(`${ctx.origin}/replay/r/${ctx.recordingId}`);
    await dash.waitForSelector("#player-root[data-ready]");
    await dash.locator("h1").click();
    await dash.keyboard.press("End");
    assert.is(await expectShown(dash, ctx.timeline, "reopened"), ctx.timeline.frames.length - 1);
    await dash.keyboard.press("Home");
    await expectShown(dash, ctx.timeline, "reopened, Home");
    assert.equal(frameRequests, [], "every frame came from IndexedDB");
    const hits = await dash.evaluate(() => (globalThis as unknown as { __replaySource: { cacheHits: number } }).__replaySource.cacheHits);
    assert.ok(hits >= ctx.timeline.frames.length - 1, `${hits} frames from the cache`);
  } finally {
    dash.off("request", onRequest);
  }
});

browserTest("the head option styles frames with the app's own stylesheet", async () => {
  const dash = ctx.dash;
  await dash.goto(`${ctx.origin}/styled/r/${ctx.recordingId}`);
  await dash.waitForSelector("#player-root[data-ready]");
  const background = () => dash.frameLocator(front).locator("body").evaluate((b) => getComputedStyle(b).backgroundColor);
  await dash.frameLocator(front).locator("#status").waitFor();
  await waitFor(async () => (await background()) === "rgb(1, 2, 3)", "the app's stylesheet to style the frame", 10_000, 50);
  await dash.goto(`${ctx.origin}/replay/r/${ctx.recordingId}`);
  await dash.frameLocator(front).locator("#status").waitFor();
  assert.is(await background(), "rgba(0, 0, 0, 0)", "the demo's dashboard has no head option");
});

browserTest("download the recording; the exported HTML file plays offline", async () => {
  const dash = ctx.dash;
  const [download] = await Promise.all([dash.waitForEvent("download"), dash.locator("#download").click()]);
  const hrp = join(mkdtempSync(join(tmpdir(), "hono-replay-dl-")), download.suggestedFilename());
  await download.saveAs(hrp);
  assert.equal(new Uint8Array(readFileSync(hrp)), new Uint8Array(await ctx.replay.store.storage.load(ctx.recordingId)));

  const [exported] = await Promise.all([dash.waitForEvent("download"), dash.locator("#export").click()]);
  assert.match(exported.suggestedFilename(), /^replay-SignupForm-.+\.html$/);
  const file = join(mkdtempSync(join(tmpdir(), "hono-replay-export-")), exported.suggestedFilename());
  await exported.saveAs(file);

  const offline = await ctx.browser.newContext({ offline: true });
  try {
    const page = await offline.newPage();
    const requests: string[] = [];
    page.on("request", (r) => void (r.url().startsWith("file:") || requests.push(r.url())));
    const errors: string[] = [];
    page.on("pageerror", (e) => void errors.push(e.message));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector("#player-root[data-ready]");
    await expectShown(page, ctx.timeline, "export opened");
    await page.locator('.speed[data-speed="8"]').click();
    await page.locator("#play").click();
    await page.waitForFunction(() => document.getElementById("player")?.dataset.playing === "false");
    assert.is(await expectShown(page, ctx.timeline, "export played"), ctx.timeline.frames.length - 1);
    await page.locator("h1").click();
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    assert.is((await state(page)).t, stepper(ctx.timeline).next(0));
    await expectShown(page, ctx.timeline, "export stepped");
    assert.equal(requests, [], "nothing fetched");
    assert.equal(errors, []);
  } finally {
    await offline.close();
  }
});

browserTest("markup injected into recorded props is shown, never run", async () => {
  // A page that renders its props unescaped (the app's bug): the user's browser runs the payload...
  const user = await ctx.browser.newContext();
  const page = await user.newPage();
  let userDialogs = 0;
  page.on("dialog", (d) => void (userDialogs++, d.dismiss()));
  await page.goto(`${ctx.origin}/note?text=${encodeURIComponent("first")}`);
  await page.goto(`${ctx.origin}/note?text=${encodeURIComponent(PAYLOAD)}`);
  await page.waitForFunction(() => (globalThis as { __pwned?: number }).__pwned !== undefined);
  assert.ok(userDialogs > 0, "in the app itself, the payload runs (that is the bug being recorded)");
  await leave(user, page, "RawNote");
  const note = await waitFor(async () => (await ctx.replay.store.listRecordingSummaries({ view: "RawNote" }))[0]?.id, "the note session to be recorded", 10_000, 100);

  // ...the dashboard replaying it runs none of it.
  const dash = ctx.dash;
  let dialogs = 0;
  const onDialog = (d: { dismiss(): Promise<void> }) => void (dialogs++, d.dismiss());
  dash.on("dialog", onDialog);
  try {
    await dash.goto(`${ctx.origin}/replay/r/${note}`);
    await dash.waitForSelector("#player-root[data-ready]");
    await dash.locator("h1").click();
    await dash.keyboard.press("End");
    await dash.waitForFunction((sel) => document.querySelector(sel)?.getAttribute("data-frame-index") === "1", front);
    const frame = dash.frameLocator(front);
    assert.is(await frame.locator("#note b").textContent(), "bold note", "the recorded markup is rendered in the frame");
    assert.is(await frame.locator('#note img[src="/x.png"]').count(), 1);
    assert.is(await frame.locator("#note script").count(), 1);
    assert.ok((await dash.locator('#inspector tr[data-key="text"] pre').textContent())!.includes("<script>window.top.__pwned=1;alert('script')</script>"), "and shown as text in the inspector");
    assert.ok((await dash.locator("#event-list .event.current").count()) === 1);
    // Give any handler a chance to fire, then check nothing ran: no dialog, no global written.
    await dash.locator("#play").click();
    await dash.waitForFunction(() => document.getElementById("player")?.dataset.playing === "false");
    await dash.waitForTimeout(300);
    assert.is(dialogs, 0, "no alert() from the replayed frame");
    assert.is(await dash.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, "nothing reached the dashboard's window");
    assert.is(await dash.frameLocator(front).locator("body").evaluate(() => (globalThis as { __pwned?: number }).__pwned ?? null).catch(() => null), null);
    assert.is(await dash.locator(front).getAttribute("sandbox"), "", "a sandbox with no permission at all");

    // Delete it from the index (a POST from the dashboard's form, after confirming).
    await dash.goto(`${ctx.origin}/replay?view=RawNote`);
    const onConfirm = (d: { type(): string; accept(): Promise<void> }) => void (d.type() === "confirm" && d.accept());
    dash.off("dialog", onDialog);
    dash.on("dialog", onConfirm);
    await Promise.all([dash.waitForURL(/notice=deleted/), dash.locator(`#recordings tr[data-id="${note}"] button.danger`).click()]);
    dash.off("dialog", onConfirm);
    assert.is(await dash.locator("#notice").textContent(), "The recording was deleted.");
    assert.is(await dash.locator(`#recordings tr[data-id="${note}"]`).count(), 0);
    assert.equal(await ctx.replay.store.listRecordingSummaries({ view: "RawNote" }), []);
  } finally {
    dash.off("dialog", onDialog);
  }
});

browserTest("erasure reaches the browser: a recording deleted on the server leaves this browser's frame cache on its next dashboard page", async () => {
  // Someone's session, finalized.
  const user = await ctx.browser.newContext();
  const page = await user.newPage();
  await page.goto(`${ctx.origin}/note?text=${encodeURIComponent("to be erased")}`);
  await page.goto(`${ctx.origin}/note?text=${encodeURIComponent("erase me too")}`);
  await leave(user, page, "RawNote");
  const id = await waitFor(async () => (await ctx.replay.store.listRecordingSummaries({ view: "RawNote" }))[0]?.id, "the note session to be recorded", 10_000, 100);

  // An admin watches it: its frames go into this browser's IndexedDB (the positive control).
  const dash = ctx.dash;
  await dash.goto(`${ctx.origin}/replay/r/${id}`);
  await dash.waitForSelector("#player-root[data-ready]");
  await waitFor(async () => (await cachedKeys(dash)).some((k) => k.includes(`:${id}:`)), "the recording's frames in IndexedDB", 10_000, 50);
  const others = (await cachedKeys(dash)).filter((k) => k.includes(`:${ctx.recordingId}:`));
  assert.ok(others.length > 0, "another recording is cached too (it must stay)");

  // Another admin deletes it (the store, not this browser's form); this browser opens any dashboard page.
  assert.is(await ctx.replay.store.deleteRecording(id), true);
  await dash.goto(`${ctx.origin}/replay/?view=SignupForm`);
  await dash.waitForFunction(() => document.body.dataset.cacheChecked === "true");
  const after = await cachedKeys(dash);
  assert.equal(after.filter((k) => k.includes(id)), [], "nothing of the deleted recording is left, the list of cached recordings included");
  assert.equal(after.filter((k) => k.includes(`:${ctx.recordingId}:`)), others, "the others are kept");
});

browserTest("a corrupt recording file: listed on the index with the reason, deleted from there after confirming", async () => {
  // Half of a real recording's file, as a process killed mid-copy leaves it; the index does not list it.
  const real = readFileSync(join(ctx.dir, "recordings", `${ctx.recordingId}.hrp`));
  const id = "half-copied";
  const file = join(ctx.dir, "recordings", `${id}.hrp`);
  writeFileSync(file, real.subarray(0, real.length >> 1));
  const dash = ctx.dash;
  await dash.goto(`${ctx.origin}/replay/`);
  const row = dash.locator(`#corrupt tr[data-corrupt-id="${id}"]`);
  assert.match((await row.locator("td.reason").textContent())!, `recording ${id} is corrupt (`);
  const onConfirm = (d: { type(): string; accept(): Promise<void> }) => void (d.type() === "confirm" && d.accept());
  dash.on("dialog", onConfirm);
  try {
    await Promise.all([dash.waitForURL(/notice=deleted/), row.locator("button.danger").click()]);
  } finally {
    dash.off("dialog", onConfirm);
  }
  assert.is(await dash.locator("#notice").textContent(), "The recording was deleted.");
  assert.is(await dash.locator("#corrupt").count(), 0, "nothing corrupt is left");
  assert.not.ok(existsSync(file), "the file is gone from disk");
  assert.ok(existsSync(join(ctx.dir, "recordings", `${ctx.recordingId}.hrp`)), "the recording it was copied from stays");
});

/**
 * Every key of the dashboard's IndexedDB frame cache, read directly (not through the dashboard's code), and
 * the entries of its "recent" list as "recent <key>:". A string, not a function: tsx would add helpers the page lacks.
 */
function cachedKeys(page: Page): Promise<string[]> {
  return page.evaluate(`(async () => {
    const read = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const db = await read(indexedDB.open("hono-replay-dashboard"));
    try {
      if (!db.objectStoreNames.contains("frames")) return [];
      const store = db.transaction("frames", "readonly").objectStore("frames");
      const keys = (await read(store.getAllKeys())).map(String).filter((k) => k !== "recent");
      const recent = (await read(store.get("recent"))) ?? [];
      return [...keys, ...recent.map(([k]) => "recent " + k + ":")];
    } finally {
      db.close();
    }
  })()`);
}

test.run();
