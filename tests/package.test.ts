/**
 * The npm package: `npm run build` output (JavaScript + declarations) works on
 * its own, including the persistence worker, which it must find as a .js file.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// Each runtime builds its own copy: both may run this file at the same time.
const out = join(root, "dist-test", (globalThis as { Deno?: unknown }).Deno ? "deno" : "node");

test("the built package records through its worker and replays", async () => {
  rmSync(out, { recursive: true, force: true });
  execFileSync("node", [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", out], { cwd: root });
  assert.ok(existsSync(join(out, "mod.d.ts")), "type declarations are emitted");
  assert.ok(existsSync(join(out, "worker/entry.js")), "the worker entry is emitted");

  const { createReplay, fileStorage } = await import(pathToFileURL(join(out, "mod.js")).href);
  const { Hono } = await import("hono");
  const { h } = await import("preact");
  const Counter = (p: { n: number }) => h("p", null, `count ${p.n}`);
  const replay = createReplay({ views: { Counter }, storage: fileStorage({ path: mkdtempSync(join(tmpdir(), "hr-pkg-")) }) });
  const app = new Hono();
  app.use(replay.recorder());
  let n = 0;
  // deno-lint-ignore no-explicit-any
  app.all("/", (c: any) => c.var.replay.render(Counter, { n: c.req.method === "POST" ? ++n : n }));
  const first = await app.request("/");
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  await app.request("/", { method: "POST", headers: { cookie } });
  await replay.ready;
  assert.is(replay.engine.mode, "worker");
  await replay.close();
  const [summary] = await replay.store.listRecordingSummaries();
  const player = replay.player(await replay.store.getRecording(summary.id));
  assert.is(player.renderFrame(1).html, "<p>count 1</p>");
});

test.run();
