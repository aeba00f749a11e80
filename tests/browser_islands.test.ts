/**
 * Islands in a real headless Chromium, on the demo: a person types into the
 * signup form's password-field island and clicks its Show button; at several
 * moments the island's content in the browser is captured, and the replay of
 * the recording at that moment must render the same island (same DOM, once the
 * browser parses the replayed HTML) and prove it by the hash the browser sent.
 * The todos page's hint island does not opt in: clicking it sends nothing.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { fileStorage, type Recording, type Replay } from "../mod.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { type Served, serve } from "../examples/demo/serve.ts";
import { canonicalIsland } from "../islands/canonical.ts";
import { CHROMIUM, chromiumAvailable, launchChromium } from "./support/browser.ts";
import { waitFor } from "./support/wait.ts";

const ctx: { replay: Replay; server: Served; origin: string; browser: Browser } = {} as never;
const available = chromiumAvailable();
if (!available) console.log(`SKIP browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
const browserTest = available ? test : test.skip;

test.before(async () => {
  if (!available) return;
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-islands-"));
  const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir }), beaconGraceMs: 300 });
  ctx.replay = replay;
  ctx.server = await serve(app.fetch, 0);
  ctx.origin = `http://127.0.0.1:${ctx.server.port}`;
  ctx.browser = await launchChromium();
});

test.after(async () => {
  if (!available) return;
  await ctx.browser?.close();
  await ctx.replay?.close();
  await ctx.server?.close();
});

/** Polls `probe` until it is truthy (tests/support/wait.ts), naming what was awaited if it never is. */
function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  return waitFor(probe, what, ms);
}

/** The active recording of `view`, once it holds at least `islands` island events. */
async function activeWith(view: string, islands: number): Promise<Recording> {
  return until(`${islands} island events in the ${view} recording`, async () => {
    await ctx.replay.flush();
    for (const s of await ctx.replay.store.listActive()) {
      if (s.view !== view) continue;
      const rec = await ctx.replay.store.getActive(s.id);
      if (rec && rec.events.filter((e) => e.kind === "island").length >= islands) return rec;
    }
    return undefined;
  });
}

/** The island's content as the browser shows it: its DOM, text nodes merged, serialized. */
function liveIsland(page: Page): Promise<string> {
  return page.locator('[data-island="password-field"]').evaluate((el) => {
    const copy = el.cloneNode(true) as Element;
    copy.normalize();
    return copy.innerHTML;
  });
}

/** The replayed island, through the same parser and serializer: the replayed page's island wrapper, parsed by the browser. */
function parsedIsland(page: Page, html: string): Promise<string> {
  return page.evaluate((html) => {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const el = doc.querySelector('[data-island="password-field"]')!;
    el.normalize();
    return el.innerHTML;
  }, html);
}

browserTest("typing and clicking in the island replays as the user saw it, moment by moment", async () => {
  const context = await ctx.browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${ctx.origin}/signup`); // after "load": the island script at the end of the body has hydrated it

  const moments: { live: string; at: number; islands: number }[] = [];
  let islands = 0;
  const capture = async (expectMore: boolean) => {
    if (expectMore) islands++;
    const recording = await activeWith("SignupForm", islands);
    islands = recording.events.filter((e) => e.kind === "island").length;
    moments.push({ live: await liveIsland(page), at: Date.now() - recording.startedAt, islands });
  };

  await capture(false); // as loaded
  await page.locator('input[name="password"]').pressSequentially("abcdefgh", { delay: 15 });
  await capture(true); // 8 characters: one rule met
  await page.locator("button.show").click();
  await until("the field shown", async () => (await page.locator('input[name="password"]').getAttribute("type")) === "text");
  await capture(true);
  await page.locator('input[name="password"]').pressSequentially("X9!", { delay: 15 });
  await until("all rules met", async () => (await page.locator(".rules li.met").count()) === 4);
  await capture(true);
  await page.locator("button.show").click();
  await until("the field hidden", async () => (await page.locator('input[name="password"]').getAttribute("type")) === "password");
  await capture(true);

  const recording = await activeWith("SignupForm", islands);
  const player = ctx.replay.player(recording);
  const distinct = new Set(moments.map((m) => m.live));
  assert.ok(distinct.size >= 4, `the island went through ${distinct.size} states`);
  for (const [i, m] of moments.entries()) {
    const frame = player.renderAt(m.at);
    assert.is(await parsedIsland(page, frame.html), m.live, `moment ${i}: the replayed island is the one in the browser`);
  }
  const islandFrames = player.timeline.frames.map((f, i) => [f, i] as const).filter(([f]) => f.event.kind === "island");
  assert.ok(islandFrames.length >= 5);
  for (const [, i] of islandFrames) assert.is(player.renderFrame(i).identical, true, `island frame ${i} hashes as the browser did`);
  assert.equal(player.fidelity().differing, [], "no frame differs");
  const last = player.renderFrame(player.frameCount - 1).html;
  assert.ok(canonicalIsland(last, "password-field")?.includes('type="password"'));
  assert.equal(errors, [], "no page errors");
  assert.not.ok(JSON.stringify(recording.events).includes("abcdefghX9!"), "the password is not in the recording");
  await context.close();
});

browserTest("an island that does not opt in sends nothing", async () => {
  const context = await ctx.browser.newContext();
  const page = await context.newPage();
  const posts: string[] = [];
  page.on("request", (r) => r.url().includes("/__replay/island") && posts.push(r.method()));
  await page.goto(`${ctx.origin}/todos`);
  await page.locator("button.dismiss").click();
  await until("the hint dismissed (hydrated)", async () => (await page.locator(".hint").textContent())?.includes("dismissed"));
  await page.locator('input[name="title"]').fill("water the plants");
  await page.locator('input[name="title"]').press("Enter");
  await until("the todo added", async () => (await page.locator("#todos li").count()) === 1);
  await page.goto(`${ctx.origin}/posts`); // pagehide: anything queued would be sent now, by beacon
  await page.locator("h1").waitFor();
  assert.equal(posts, [], "no island post");
  const todos = await until("the todos recording (active or finalized)", async () => {
    await ctx.replay.flush();
    for (const s of await ctx.replay.store.listActive()) if (s.view === "TodoList") return ctx.replay.store.getActive(s.id);
    const [done] = await ctx.replay.store.listRecordingSummaries({ view: "TodoList" });
    return done && ctx.replay.store.getRecording(done.id);
  });
  assert.is(todos!.events.filter((e) => e.kind === "island").length, 0, "no island events in the todos recording");
  await context.close();
});

test.run();
