/**
 * End to end: the demo app served over real HTTP, a scripted session of a
 * person signing up, keeping todos and filtering posts, then every recorded
 * frame replayed and compared with the HTML that was actually served.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzlibSync } from "fflate";
import { fileStorage } from "../mod.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { serve } from "../examples/demo/serve.ts";
import { readIndexFiles } from "./support/file_index.ts";
import { Visitor } from "./support/visitor.ts";

const dir = mkdtempSync(join(tmpdir(), "hono-replay-e2e-"));
const SECRET = "Sup3r-secret-pw!";

test("a scripted session replays frame by frame to the exact HTML that was served", async () => {
  const { app, replay } = createDemoApp({ storage: fileStorage({ path: dir }) });
  const server = await serve(app.fetch, 0);
  const browser = new Visitor(`http://127.0.0.1:${server.port}`);
  try {
    // Sign up, typing one character at a time; the page validates every keystroke on the server.
    await browser.get("/signup");
    let typed = { name: "", email: "", password: "" };
    for (const [field, text] of [["name", "Ada Lovelace"], ["email", "ada@example.com"], ["password", SECRET]] as const) {
      for (const ch of text) {
        typed = { ...typed, [field]: typed[field] + ch };
        await browser.post("/signup/validate", typed, "validate");
      }
    }
    assert.match(await browser.post("/signup", typed), "Welcome aboard, Ada Lovelace");

    // Todos: form posts that redirect back, then a filter in the query.
    await browser.get("/todos");
    for (const title of ["Buy milk", "Write tests", "Ship it"]) await browser.post("/todos", { title });
    await browser.post("/todos/2/toggle", {});
    await browser.post("/todos/1/delete", {});
    await browser.get("/todos?filter=done");

    // Posts filtered by query params.
    await browser.get("/posts");
    await browser.get("/posts?q=ring");
    await browser.get("/posts?q=&tag=deno");
  } finally {
    await replay.close();
    await server.close();
  }

  const summaries = await replay.store.listRecordingSummaries({ sort: "startedAt", order: "asc" });
  assert.equal(summaries.map((s) => s.view), ["SignupForm", "TodoList", "PostIndex"]);
  assert.is(new Set(summaries.map((s) => s.sessionKey)).size, 1, "one browser session");

  const servedByPath = (prefix: string) => browser.pages.filter((p) => p.path.startsWith(prefix)).map((p) => p.html);
  const served: Record<string, string[]> = {
    SignupForm: servedByPath("/signup"),
    TodoList: servedByPath("/todos"),
    PostIndex: servedByPath("/posts"),
  };

  for (const summary of summaries) {
    const recording = await replay.store.getRecording(summary.id);
    const player = replay.player(recording);
    const pages = served[summary.view];
    assert.is(player.frameCount, pages.length, `${summary.view}: one frame per page served`);
    for (let i = 0; i < player.frameCount; i++) {
      const frame = player.renderFrame(i);
      assert.is("<!DOCTYPE html>" + frame.html, pages[i], `${summary.view} frame ${i} is byte-identical`);
      assert.is(frame.identical, true, `${summary.view} frame ${i}: the stored hash agrees`);
    }
  }

  const signup = await replay.store.getRecording(summaries[0].id);
  const kinds = signup.events.map((e) => e.kind);
  assert.is(kinds[0], "mount");
  assert.is(kinds.filter((k) => k === "event").length, 12 + 15 + SECRET.length + 1, "every keystroke and the submit");
  assert.ok(signup.events.every((e, i) => i === 0 || e.t >= signup.events[i - 1].t), "offsets never go back");
  const todoEvents = (await replay.store.getRecording(summaries[1].id)).events.filter((e) => e.kind === "event");
  assert.equal(todoEvents.map((e) => e.kind === "event" && e.name), [
    "POST /todos", "POST /todos", "POST /todos", "POST /todos/:id/toggle", "POST /todos/:id/delete",
  ]);
});

test("the password typed into the form never reaches the disk", () => {
  const files = readdirSync(join(dir, "recordings")).map((f) => join(dir, "recordings", f));
  assert.ok(files.length >= 3);
  for (const file of files) {
    const text = new TextDecoder().decode(unzlibSync(readFileSync(file).subarray(5)));
    assert.not.ok(text.includes(SECRET), `${file} holds no password`);
    assert.ok(text.includes("ada@example.com") || !file.includes("Signup"));
  }
  assert.not.ok(JSON.stringify(readIndexFiles(dir)).includes(SECRET));
});

test.run();
