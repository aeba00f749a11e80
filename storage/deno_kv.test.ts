/**
 * denoKvStorage on a temporary local database: Deno.openKv on Deno (when the
 * KV API is enabled, else @deno/kv), @deno/kv on Node. The conformance suite
 * through two handles, then what this backend promises: no value over 64 KiB,
 * listing reads only summary keys, a missing or damaged chunk is a
 * CorruptRecordingError, and a database written by Deno's own Deno.openKv
 * reads back here. For segments: a 1 MB segment is chunked and read back
 * whole, replaced and deleted whole; listing them reads headers only; a
 * missing chunk names the segment; erasure sweeps chunks no header names; a
 * claim race among four handles has one winner. A save that fails half way
 * reports through the logger the chunks it could not remove, and one whose
 * summary is in keeps its chunks when removing the replaced ones fails.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CorruptRecordingError, decodeRecordingFile } from "../format/mod.ts";
import { type DenoKvStorage, denoKvStorage } from "./deno_kv.ts";
import { damaged, fixtureRecording, storageConformance } from "./conformance.ts";
import { runWithUvu } from "../tests/support/conformance_uvu.ts";
import { testUnless } from "../tests/support/skip.ts";

const dir = mkdtempSync(join(tmpdir(), "hono-replay-kv-"));
const path = join(dir, "replay.kv");
const root = fileURLToPath(new URL("..", import.meta.url));
// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno;

type RawKv = {
  get(key: unknown[]): Promise<{ value: unknown; versionstamp: string | null }>;
  set(key: unknown[], value: unknown): Promise<unknown>;
  delete(key: unknown[]): Promise<void>;
  list(selector: { prefix: unknown[] }): AsyncIterable<{ key: unknown[]; value: unknown }>;
  atomic(): unknown;
  close(): void;
};

/** The database itself, opened the way denoKvStorage opens it. */
async function rawKv(at = path): Promise<RawKv> {
  if (typeof deno?.openKv === "function") return deno.openKv(at);
  const { openKv } = await import("@deno/kv");
  return (await openKv(at)) as unknown as RawKv;
}

/** A recording's summary as stored: UTF-8 JSON bytes, with the generation and count of its chunks. */
async function readHead(kv: RawKv, id: string): Promise<{ gen: string; chunks: number }> {
  const { value } = await kv.get(["hono_replay", "s", id]);
  assert.instance(value, Uint8Array);
  return JSON.parse(new TextDecoder().decode(value as Uint8Array));
}

runWithUvu(storageConformance({
  name: "deno kv",
  open: () => denoKvStorage({ path }),
  openAnother: () => denoKvStorage({ path }),
  async corrupt(_storage, id, bytes) {
    const kv = await rawKv();
    const head = await readHead(kv, id);
    await kv.set(["hono_replay", "d", id, head.gen, 0], damaged(bytes));
    kv.close();
  },
}));

let storage: DenoKvStorage;
test.before(async () => {
  storage = denoKvStorage({ path });
  console.log(`deno kv storage opened with ${await storage.implementation()}`);
});
test.after(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a large recording is chunked: no value over 64 KiB, data written over several atomic operations, read back whole", async () => {
  await storage.clear();
  const big = fixtureRecording({ id: "0kv-big", startedAt: Date.UTC(2026, 0, 1), events: 10_000, noise: 200 });
  assert.ok(big.bytes.length > 800 * 1024, `bigger than one atomic operation may write (${big.bytes.length} bytes)`);
  await storage.save(big.summary, big.bytes);
  const kv = await rawKv();
  try {
    const chunks: number[] = [];
    let largest = 0;
    for await (const entry of kv.list({ prefix: ["hono_replay"] })) {
      const size = entry.value instanceof Uint8Array ? entry.value.length : JSON.stringify(entry.value).length;
      largest = Math.max(largest, size);
      if (entry.key[1] === "d") chunks.push(entry.key[4] as number);
    }
    assert.ok(largest < 64 * 1024, `largest value ${largest} bytes`);
    assert.equal(chunks, Array.from({ length: Math.ceil(big.bytes.length / 60_000) }, (_, i) => i));
  } finally {
    kv.close();
  }
  assert.equal([...(await storage.load("0kv-big"))], [...big.bytes]);
  // Saved again (a new generation), the old chunks are gone.
  const again = fixtureRecording({ id: "0kv-big", startedAt: Date.UTC(2026, 0, 1), events: 5 });
  await storage.save(again.summary, again.bytes);
  const kv2 = await rawKv();
  let data = 0;
  for await (const entry of kv2.list({ prefix: ["hono_replay", "d"] })) data += entry.value ? 1 : 0;
  kv2.close();
  assert.is(data, 1, "one chunk left: the new recording's");
  assert.equal(decodeRecordingFile("0kv-big", await storage.load("0kv-big")).events, again.events);
});

test("listing reads summary keys only", async () => {
  await storage.clear();
  const t0 = Date.UTC(2026, 0, 2);
  for (let i = 0; i < 5; i++) {
    const f = fixtureRecording({ id: `0kv-list-${i}`, startedAt: t0 + i, events: 200, noise: 400 });
    await storage.save(f.summary, f.bytes);
  }
  const kv = await rawKv();
  const prefixes: string[] = [];
  const gets: string[] = [];
  const spy = {
    get: (key: unknown[]) => (gets.push(JSON.stringify(key)), kv.get(key)),
    list: (selector: { prefix: unknown[] }, options?: unknown) => (prefixes.push(JSON.stringify(selector.prefix)), (kv.list as (s: unknown, o: unknown) => AsyncIterable<unknown>)(selector, options)),
    atomic: () => kv.atomic(),
    close: () => kv.close(),
  };
  const spied = denoKvStorage({ kv: spy });
  try {
    assert.is(spied.spec, undefined, "a given handle cannot go to a worker");
    const page = await spied.list({ minEvents: 100, limit: 3 });
    assert.is(page.items.length, 3);
    assert.equal(prefixes, [JSON.stringify(["hono_replay", "s"])]);
    assert.equal(gets, []);
  } finally {
    await spied.close();
    kv.close();
  }
});

test("a missing chunk is a CorruptRecordingError for that recording; the others load", async () => {
  await storage.clear();
  const t0 = Date.UTC(2026, 0, 3);
  const fixtures = [0, 1, 2].map((i) => fixtureRecording({ id: `0kv-chunk-${i}`, startedAt: t0 + i, events: 3_000, noise: 100 }));
  for (const f of fixtures) await storage.save(f.summary, f.bytes);
  const kv = await rawKv();
  const head = await readHead(kv, "0kv-chunk-1");
  assert.ok(head.chunks >= 2);
  await kv.delete(["hono_replay", "d", "0kv-chunk-1", head.gen, 1]);
  kv.close();
  try {
    await storage.load("0kv-chunk-1");
    assert.unreachable("loading a recording with a missing chunk must fail");
  } catch (error) {
    assert.instance(error, CorruptRecordingError);
    assert.match((error as Error).message, /0kv-chunk-1.*chunk/);
  }
  for (const i of [0, 2]) assert.equal([...(await storage.load(`0kv-chunk-${i}`))], [...fixtures[i].bytes]);
  assert.is((await storage.list()).items.length, 3);
  assert.is(await storage.delete("0kv-chunk-1"), true);
});

/** Every value under the prefix: its key and size. */
/** Every entry under the storage's prefix but the store's shared secret and erasure marks (which clear() keeps by design). */
async function rawEntries(): Promise<{ key: unknown[]; size: number }[]> {
  const kv = await rawKv();
  try {
    const out: { key: unknown[]; size: number }[] = [];
    for await (const entry of kv.list({ prefix: ["hono_replay"] })) {
      if ((entry.key.length === 2 && entry.key[1] === "secret") || entry.key[1] === "erasure") continue;
      out.push({ key: entry.key, size: entry.value instanceof Uint8Array ? entry.value.length : JSON.stringify(entry.value).length });
    }
    return out;
  } finally {
    kv.close();
  }
}

test("a 1 MB segment is chunked under 64 KiB, read back whole, replaced whole and deleted whole; listing reads headers only", async () => {
  await storage.clear();
  let seed = 7;
  // Whole characters (the emoji is two UTF-16 units, four UTF-8 bytes), so chunk boundaries fall inside them.
  const chars = [..."abcdefghij\té😀\n"];
  const big = Array.from({ length: 1_000_000 }, () => chars[(seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % chars.length]).join("");
  assert.ok(new TextEncoder().encode(big).length > 1024 * 1024, "over 1 MiB of UTF-8");
  await storage.appendSegment({ recordingId: "0kv-seg", key: "i1-000001", lastAt: 5, text: big });
  await storage.appendSegment({ recordingId: "0kv-seg", key: "i2-000001", lastAt: 6, text: "small" });
  let entries = await rawEntries();
  assert.ok(Math.max(...entries.map((e) => e.size)) < 64 * 1024, "no value over 64 KiB");
  const chunksOf = (key: string) => entries.filter((e) => e.key[1] === "segd" && e.key[3] === key).length;
  assert.is(chunksOf("i1-000001"), Math.ceil(new TextEncoder().encode(big).length / 60_000));
  const loaded = (await storage.loadSegments("0kv-seg")).sort((a, b) => a.lastAt - b.lastAt);
  assert.equal(loaded.map((s) => [s.key, s.lastAt, s.text.length]), [["i1-000001", 5, big.length], ["i2-000001", 6, 5]]);
  assert.ok(loaded[0].text === big, "the text comes back whole");

  // Listing segments reads the header keys only.
  const kv = await rawKv();
  const prefixes: string[] = [];
  const gets: string[] = [];
  const spy = {
    get: (key: unknown[]) => (gets.push(JSON.stringify(key)), kv.get(key)),
    list: (selector: { prefix: unknown[] }, options?: unknown) => (prefixes.push(JSON.stringify(selector.prefix)), (kv.list as (s: unknown, o: unknown) => AsyncIterable<unknown>)(selector, options)),
    atomic: () => kv.atomic(),
    close: () => kv.close(),
  };
  const spied = denoKvStorage({ kv: spy });
  try {
    assert.equal((await spied.listSegments()).sort((a, b) => a.lastAt - b.lastAt), [
      { recordingId: "0kv-seg", key: "i1-000001", lastAt: 5 },
      { recordingId: "0kv-seg", key: "i2-000001", lastAt: 6 },
    ]);
    assert.equal(prefixes, [JSON.stringify(["hono_replay", "seg"])]);
    assert.equal(gets, []);
  } finally {
    await spied.close();
    kv.close();
  }

  // Appended again under the same key (a retry): the old text goes.
  await storage.appendSegment({ recordingId: "0kv-seg", key: "i1-000001", lastAt: 7, text: "retried" });
  entries = await rawEntries();
  assert.is(chunksOf("i1-000001"), 1, "one chunk left: the new text's");
  assert.equal((await storage.loadSegments("0kv-seg")).map((s) => s.text).sort(), ["retried", "small"]);
  await storage.appendSegment({ recordingId: "0kv-seg", key: "i1-000001", lastAt: 8, text: big });
  await storage.deleteSegments("0kv-seg", ["i1-000001", "i2-000001"]);
  assert.equal((await rawEntries()).map((e) => e.key), [], "no header and no chunk left");
});

test("a missing segment chunk is a CorruptRecordingError that names the segment; erasure sweeps chunks no header names, and the claim", async () => {
  await storage.clear();
  const text = "x".repeat(150_000);
  await storage.appendSegment({ recordingId: "0kv-seg-damaged", key: "i1-000001", lastAt: 1, text });
  await storage.appendSegment({ recordingId: "0kv-seg-damaged", key: "i1-000002", lastAt: 2, text: "fine" });
  const kv = await rawKv();
  const { value } = await kv.get(["hono_replay", "seg", "0kv-seg-damaged", "i1-000001"]);
  const head = JSON.parse(new TextDecoder().decode(value as Uint8Array));
  await kv.delete(["hono_replay", "segd", "0kv-seg-damaged", "i1-000001", head.gen, 1]);
  // What an append that died half way leaves: chunks of a generation no header names.
  await kv.set(["hono_replay", "segd", "0kv-seg-damaged", "i1-000003", "orphan", 0], new Uint8Array(10));
  kv.close();
  try {
    await storage.loadSegments("0kv-seg-damaged");
    assert.unreachable("a segment with a missing chunk must not load");
  } catch (error) {
    assert.instance(error, CorruptRecordingError);
    assert.match((error as Error).message, /i1-000001.*chunk 1 of 3.*deleteSegments/);
  }
  await storage.deleteSegments("0kv-seg-damaged", ["i1-000001"]);
  assert.equal((await storage.loadSegments("0kv-seg-damaged")).map((s) => s.text), ["fine"]);
  assert.is(await storage.claim("0kv-seg-damaged", "instance-a", 60_000), true);
  assert.is(await storage.delete("0kv-seg-damaged"), true);
  assert.equal((await rawEntries()).map((e) => e.key), [], "segments, orphaned chunks and the claim are gone");
});

test("deleteSegments of many keys spans several atomic operations and leaves the others", async () => {
  await storage.clear();
  const keys = Array.from({ length: 25 }, (_, i) => `i1-${String(i).padStart(6, "0")}`);
  for (const [i, key] of keys.entries()) await storage.appendSegment({ recordingId: "0kv-many", key, lastAt: i, text: "y".repeat(i % 3 ? 10 : 70_000) });
  await storage.deleteSegments("0kv-many", keys.slice(1));
  assert.equal((await storage.listSegments()).map((s) => s.key), [keys[0]]);
  assert.equal((await rawEntries()).filter((e) => e.key[1] === "segd").length, 2, "only the kept segment's two chunks");
});

/** A handle on the database whose commits fail where `fails(op)` says so; `op` lists the keys the operation sets and deletes. */
async function failingKv(fails: (op: { sets: string[]; deletes: string[] }) => boolean) {
  const kv = await rawKv();
  const handle = {
    get: (key: unknown[]) => kv.get(key),
    list: (selector: { prefix: unknown[] }, options?: unknown) => (kv.list as (s: unknown, o: unknown) => AsyncIterable<unknown>)(selector, options),
    atomic() {
      // deno-lint-ignore no-explicit-any
      const op = kv.atomic() as any;
      const seen = { sets: [] as string[], deletes: [] as string[] };
      const [set, del, commit] = [op.set.bind(op), op.delete.bind(op), op.commit.bind(op)];
      op.set = (key: unknown[], ...rest: unknown[]) => (seen.sets.push(JSON.stringify(key)), set(key, ...rest), op);
      op.delete = (key: unknown[]) => (seen.deletes.push(JSON.stringify(key)), del(key), op);
      op.commit = () => (fails(seen) ? Promise.reject(new Error("disk full")) : commit());
      return op;
    },
    close: () => kv.close(),
  };
  return handle;
}

test("a save that fails half way reports, through the logger, the chunks it could not remove", async () => {
  await storage.clear();
  const big = fixtureRecording({ id: "0kv-fail", startedAt: Date.UTC(2026, 0, 4), events: 10_000, noise: 200 });
  assert.ok(big.bytes.length > 9 * 60_000, "more chunks than one atomic operation takes");
  let commits = 0;
  const handle = await failingKv(() => ++commits > 1);
  const warnings: string[] = [];
  const failing = denoKvStorage({ kv: handle, logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } });
  try {
    await failing.save(big.summary, big.bytes);
    assert.unreachable("the save must fail");
  } catch (error) {
    assert.is((error as Error).message, "disk full");
  } finally {
    await failing.close();
    handle.close();
  }
  assert.is(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /0kv-fail.*partly written chunks.*disk full/);
  assert.not.match(warnings[0], /^hono-replay: /, "the logger adds its own prefix");
  await storage.clear();
});

test("a save whose summary is in keeps its chunks when removing the replaced ones fails", async () => {
  await storage.clear();
  const old = fixtureRecording({ id: "0kv-replace", startedAt: Date.UTC(2026, 0, 4), events: 5 });
  const big = fixtureRecording({ id: "0kv-replace", startedAt: Date.UTC(2026, 0, 4), events: 10_000, noise: 200 });
  assert.ok(big.bytes.length > 9 * 60_000, "its chunks go before the summary");
  await storage.save(old.summary, old.bytes);
  const raw = await rawKv();
  const oldGen = (await readHead(raw, "0kv-replace")).gen;
  raw.close();
  let failed = 0;
  const handle = await failingKv((op) => op.deletes.some((key) => key.includes(JSON.stringify(oldGen))) && ++failed === 1);
  const failing = denoKvStorage({ kv: handle });
  try {
    await failing.save(big.summary, big.bytes);
    assert.unreachable("removing the replaced chunks failed: the save says so");
  } catch (error) {
    assert.is((error as Error).message, "disk full");
  } finally {
    await failing.close();
    handle.close();
  }
  assert.is(failed, 1, "the removal of the replaced chunks was the commit that failed");
  assert.equal([...(await storage.load("0kv-replace"))], [...big.bytes], "the recording the summary points at is whole");
  await storage.clear();
});

test("claim: of four handles racing, exactly one wins", async () => {
  const handles = [storage, ...Array.from({ length: 3 }, () => denoKvStorage({ path }))];
  try {
    for (let round = 0; round < 5; round++) {
      const won = await Promise.all(handles.map((h, i) => h.claim(`0kv-race-${round}`, `instance-${i}`, 60_000)));
      assert.is(won.filter(Boolean).length, 1, `round ${round}: ${won}`);
    }
  } finally {
    for (const h of handles.slice(1)) await h.close();
  }
});

const denoBin = join(root, "node_modules", ".bin", "deno");
const denoTest = testUnless(existsSync(denoBin) ? undefined : "no deno binary in node_modules/.bin", "the Deno.openKv round trip");

denoTest("a database written by Deno's own Deno.openKv reads back here", async () => {
  const other = join(dir, "written-by-deno.kv");
  const run = spawnSync(denoBin, ["run", "-A", "--quiet", "--unstable-kv", "storage/deno_kv.fixture.ts", other], { cwd: root, encoding: "utf8" });
  assert.is(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout.trim().split("\n").pop()!);
  assert.is(report.implementation, "Deno.openKv");
  const reader = denoKvStorage({ path: other });
  try {
    const items = (await reader.list({ order: "asc" })).items;
    assert.equal(items.map((s) => [s.id, s.eventCount]), [["0deno-small", 9], ["0deno-big", 10_000]]);
    assert.equal(items.map((s) => s.sizeBytes), report.sizes);
    const big = decodeRecordingFile("0deno-big", await reader.load("0deno-big"));
    assert.is(big.events.length, 10_000);
    assert.equal(big.eventNames, ["add"]);
    const [segment] = await reader.loadSegments("0deno-active");
    assert.equal([segment.key, segment.lastAt, segment.text.length], ["deno-000001", report.segment.lastAt, report.segment.length]);
    assert.is(segment.text, report.segment.text.repeat(report.segment.length / report.segment.text.length));
    assert.is(await reader.claim("0deno-active", "instance-node", 60_000), false, "Deno's claim holds here");
  } finally {
    await reader.close();
  }
});

// Deno only (there is no Deno.openKv default elsewhere): not registered on Node, rather than skipped.
if (deno) test("Deno: denoKvStorage() without a path records through the engine into the database this thread reads", async () => {
  const { createReplay } = await import("../mod.ts");
  const { Hono } = await import("hono");
  const { FixtureView } = await import("./conformance.ts");
  // Deno.openKv()'s default database, under a prefix of this test's own.
  const prefix = ["hono_replay_test", String(Date.now())];
  const storage = denoKvStorage({ prefix });
  assert.is(storage.spec, undefined, "no worker: a worker's Deno.openKv() would open another database");
  const replay = createReplay({ views: { Counter: FixtureView }, storage, journal: false });
  const app = new Hono();
  app.use(replay.recorder());
  app.get("/c", (c) => c.var.replay.render(FixtureView, { label: "n", count: 0 }));
  app.post("/c", (c) => c.var.replay.render(FixtureView, { label: "n", count: 1 }));
  const first = await app.request("/c");
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  await app.request("/c", { method: "POST", headers: { cookie } });
  await replay.flush();
  const reader = denoKvStorage({ prefix });
  try {
    await replay.close();
    const items = (await reader.list()).items;
    assert.is(items.length, 1, "the recording is in the database another handle opens");
    assert.is(items[0].eventCount, 3, "mount, event, render");
  } finally {
    await reader.clear();
    await reader.close();
  }
});

test.run();
