/**
 * The npm package, as users install it.
 *
 * 1. `npm run build` output (JavaScript + declarations) works on its own, including the
 *    persistence worker, which it must find as a .js file.
 * 2. `npm pack` of that build, installed from the tarball into fresh projects next to the peer
 *    dependencies an app brings: (a) preact 10 with the lowest hono the peer range claims (and
 *    TypeScript checking an app against the package's declarations), (b) the registry's latest
 *    preact (11) and hono. Each runs one plain JavaScript app (PROJECT_APP) with the runtime
 *    running this file — Node, or Deno on an installed npm project — that serves a page, posts
 *    events, closes, and replays: served and replayed HTML must be non-empty and identical.
 * 3. Two copies of preact (the app's at the top, another nested under hono-replay — what a
 *    `preact` dependency used to make npm do) stop createReplay with the error that says what
 *    to do, instead of empty pages.
 *
 * Invariants: each runtime builds and installs into its own directories (both may run this file
 * at once); installs use npm's cache first (--prefer-offline) and fail the test on any error, but
 * one: a resolution error from stale cached metadata (a version published since it was cached;
 * seen when hono 4.13.23 came out during a run) is retried once with --prefer-online.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const onDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;
// Each runtime builds its own copy: both may run this file at the same time.
const staging = join(root, "dist-test", onDeno ? "deno" : "node");
const out = join(staging, "dist");
const projects = mkdtempSync(join(tmpdir(), `hr-pkg-${onDeno ? "deno" : "node"}-`));
const LOWEST_HONO = "4.6.0"; // the bottom of the hono peer range in package.json
const NPM_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

function npm(cwd: string, args: string[]): string {
  const run = (flags: string[]) => execFileSync("npm", [...args, ...flags], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  try {
    return run(NPM_FLAGS);
  } catch (error) {
    // A version published since npm cached the package's metadata: `latest` names it, the cached
    // list does not have it (ERESOLVE "Found: hono@undefined", ETARGET). Once more, fresh.
    if (!/ERESOLVE|ETARGET|notarget/.test(String((error as { stderr?: unknown }).stderr))) throw error;
    return run(NPM_FLAGS.map((flag) => (flag === "--prefer-offline" ? "--prefer-online" : flag)));
  }
}

/** Runs a script of an installed project with the runtime running this file. */
function runInProject(dir: string, script: string, args: string[] = []) {
  const argv = onDeno ? ["run", "-A", "--quiet", script, ...args] : [script, ...args];
  return spawnSync(process.execPath, argv, { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
}

/**
 * A user's app in plain JavaScript: serve a page, post two events and one more whose handler renders
 * the view itself, under a layout (recorded by attaching, the view rendered once: recorder/render_once.ts,
 * against the renderer the app installed), close, replay. Prints JSON.
 */
const PROJECT_APP = `import { Hono } from "hono";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import process from "node:process";
import { createReplay, fileStorage } from "hono-replay";

let renders = 0;
const Counter = (p) => (renders++, h("main", null, h("h1", null, "Counter"), h("p", null, "count " + p.n)));
const replay = createReplay({ views: { Counter }, storage: fileStorage({ path: process.argv[2] }) });
const app = new Hono();
app.use(replay.recorder());
let n = 0;
app.get("/", (c) => c.var.replay.render(Counter, { n }));
app.post("/inc", (c) => c.var.replay.render(Counter, { n: ++n }));
app.post("/attached", (c) => c.html("<!doctype html>" + renderToString(h("body", null, h("header", null, "app"), h(Counter, { n: ++n })))));

const served = [];
const first = await app.request("/");
served.push(await first.text());
const cookie = first.headers.get("set-cookie").split(";")[0];
for (let i = 0; i < 2; i++) served.push(await (await app.request("/inc", { method: "POST", headers: { cookie } })).text());
served.push(await (await app.request("/attached", { method: "POST", headers: { cookie } })).text());
const rendersServing = renders;
await replay.ready;
const mode = replay.engine.mode;
await replay.close();

const [summary] = await replay.store.listRecordingSummaries();
const player = replay.player(await replay.store.getRecording(summary.id));
const replayed = [];
for (let i = 0; i < player.frameCount; i++) replayed.push(player.renderFrame(i).html);
console.log(JSON.stringify({ served, replayed, mode, identical: player.fidelity().identical, renders: rendersServing }));
`;

/** The same app in TypeScript, checked against the declarations in the tarball. */
const PROJECT_APP_TS = `import { Hono } from "hono";
import { h } from "preact";
import { createReplay, fileStorage, type ReplayEnv } from "hono-replay";
import { idbStorage } from "hono-replay/idb";

const Counter = (p: { n: number }) => h("p", null, "count " + p.n);
const replay = createReplay({ views: { Counter }, storage: fileStorage({ path: "recordings" }) });
const app = new Hono<ReplayEnv>();
app.route("/replay", replay.dashboard({ authorize: () => false }));
app.use(replay.recorder());
app.get("/", (c) => c.var.replay.render(Counter, { n: 1 }));
export const storages = [idbStorage({ name: "x" })];
`;

function build() {
  rmSync(staging, { recursive: true, force: true });
  execFileSync("node", [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", out], { cwd: root });
}

let tarball = "";
function pack(): string {
  if (tarball) return tarball;
  // package.json's "files": dist, README.md, LICENSE.
  for (const file of ["package.json", "README.md", "LICENSE"]) copyFileSync(join(root, file), join(staging, file));
  const [info] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", projects], { cwd: staging, encoding: "utf8" }));
  tarball = join(projects, info.filename);
  const files: string[] = info.files.map((f: { path: string }) => f.path);
  assert.ok(files.includes("dist/worker/entry.js") && files.includes("dist/idb.js") && files.includes("LICENSE"), files.join(" "));
  assert.not.ok(files.some((f) => f.includes(".test.")), "no tests in the package");
  return tarball;
}

function project(name: string, peers: string[]): string {
  const dir = join(projects, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `hr-${name}`, private: true, type: "module" }));
  npm(dir, ["install", pack(), ...peers]);
  writeFileSync(join(dir, "app.mjs"), PROJECT_APP);
  return dir;
}

function installed(dir: string, name: string): string {
  return JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version;
}

function recordAndReplay(dir: string) {
  const run = runInProject(dir, "app.mjs", [mkdtempSync(join(dir, "recordings-"))]);
  assert.is(run.status, 0, `the app failed:\n${run.stdout}\n${run.stderr}`);
  const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
  const counter = (n: number) => `<main><h1>Counter</h1><p>count ${n}</p></main>`;
  assert.equal(result.served, [counter(0), counter(1), counter(2), `<!doctype html><body><header>app</header>${counter(3)}</body>`], "served pages are not empty");
  assert.equal(result.replayed, [counter(0), counter(1), counter(2), counter(3)], "replayed frames are the served views");
  assert.is(result.identical, 4, "fidelity: every frame byte-identical");
  assert.is(result.renders, 4, "each page rendered its view once, the attached one too");
  assert.is(result.mode, "worker", "the persistence worker ran from the package");
}

test("the built package records through its worker and replays", async () => {
  build();
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

test(`installed from the tarball with preact 10 and hono ${LOWEST_HONO}: renders, records, replays; types check; require() works`, () => {
  const dir = project("preact10", ["preact@10", `hono@${LOWEST_HONO}`, "preact-render-to-string@6", ...(onDeno ? [] : ["typescript@5", "@types/node@20"])]);
  assert.ok(installed(dir, "preact").startsWith("10."));
  assert.is(installed(dir, "hono"), LOWEST_HONO);
  assert.not.ok(existsSync(join(dir, "node_modules/hono-replay/node_modules")), "no nested copies of the peers");
  recordAndReplay(dir);
  if (onDeno) return; // TypeScript and require() are Node's; the Deno run above is what Deno users do.

  writeFileSync(join(dir, "app.ts"), PROJECT_APP_TS);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, lib: ["ES2022", "DOM"], types: ["node"] },
    files: ["app.ts"],
  }));
  const tsc = spawnSync("node", [join(dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: dir, encoding: "utf8" });
  assert.is(tsc.status, 0, `tsc against hono ${LOWEST_HONO}:\n${tsc.stdout}${tsc.stderr}`);

  const cjs = spawnSync("node", ["-e", `const r = require("hono-replay"); const i = require("hono-replay/idb"); console.log(typeof r.createReplay, typeof i.idbStorage)`], { cwd: dir, encoding: "utf8" });
  assert.is(cjs.stdout.trim(), "function function", `require("hono-replay"):\n${cjs.stderr}`);
});

test("installed with the registry's latest preact and hono: renders, records, replays; two preact copies stop it with a clear error", () => {
  const dir = project("latest", ["preact@latest", "hono@latest", "preact-render-to-string@latest"]);
  assert.ok(!installed(dir, "preact").startsWith("10."), `latest preact is ${installed(dir, "preact")}`);
  assert.not.ok(existsSync(join(dir, "node_modules/hono-replay/node_modules")), "no nested copies of the peers");
  recordAndReplay(dir);

  // Positive control: a second preact (project (a)'s 10) nested under hono-replay, next to the app's latest.
  cpSync(join(projects, "preact10/node_modules/preact"), join(dir, "node_modules/hono-replay/node_modules/preact"), { recursive: true });
  const run = runInProject(dir, "app.mjs", [mkdtempSync(join(dir, "recordings-"))]);
  assert.is.not(run.status, 0, `two copies of preact must not start:\n${run.stdout}`);
  assert.match(run.stderr, "two copies of preact are installed");
  assert.match(run.stderr, "npm ls preact");
  rmSync(join(dir, "node_modules/hono-replay/node_modules"), { recursive: true });

  // IndexedDB storage is its own entry point: hono-replay/idb, not the server entry.
  writeFileSync(join(dir, "entries.mjs"), `const m = await import("hono-replay");
const idb = await import("hono-replay/idb");
console.log([typeof m.createReplay, "idbStorage" in m, typeof idb.idbStorage].join(" "));
`);
  const entries = runInProject(dir, "entries.mjs");
  assert.is(entries.status, 0, entries.stderr);
  assert.is(entries.stdout.trim(), "function false function");

  // A server never loads idb-keyval (the dashboard's browser cache included): it works without it.
  const idbKeyval = join(dir, "node_modules/idb-keyval");
  renameSync(idbKeyval, idbKeyval + ".away");
  try {
    writeFileSync(join(dir, "server.mjs"), `const m = await import("hono-replay");
const replay = m.createReplay({ views: { V: () => null }, storage: m.memoryStorage() });
replay.dashboard({ dangerouslyAllowOpenAccess: true });
await replay.close();
console.log("ok");
`);
    const server = runInProject(dir, "server.mjs");
    assert.is(server.stdout.trim(), "ok", `the server entry and the dashboard load without idb-keyval:\n${server.stderr}`);
  } finally {
    renameSync(idbKeyval + ".away", idbKeyval);
  }

  // The storage conformance suite, run by the runtime's own test runner: no test library installed.
  writeFileSync(join(dir, "conformance.test.mjs"), `import { memoryStorage } from "hono-replay";
import { storageConformance } from "hono-replay/conformance";
const test = globalThis.Deno ? globalThis.Deno.test : (await import("node:test")).test;
storageConformance({ name: "memory", open: () => memoryStorage() }).register(test);
`);
  assert.not.ok(existsSync(join(dir, "node_modules/uvu")), "no test library in the project");
  const argv = onDeno ? ["test", "-A", "--quiet", "--no-check", "conformance.test.mjs"] : ["--test", "conformance.test.mjs"];
  const conformance = spawnSync(process.execPath, argv, { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  assert.is(conformance.status, 0, `the conformance suite, run by ${onDeno ? "deno test" : "node --test"}:\n${conformance.stdout}\n${conformance.stderr}`);
  assert.match(conformance.stdout + conformance.stderr, /memory storage conformance: save, then load/);
});

test.after(() => rmSync(projects, { recursive: true, force: true }));

test.run();
