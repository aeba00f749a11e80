/**
 * fileStorage: real files in a temp dir. The index serves listing, a lost or
 * corrupt index is rebuilt, writes are atomic and locked, ids cannot escape the
 * directory, and filters, sorting and cursor paging behave. Segments are files
 * named by their header, owner-only, and survive a writer killed between write
 * and rename; claims are generation files, and two processes racing for the
 * same recordings take each exactly once.
 */

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  CorruptRecordingError,
  decodeRecordingFile,
  encode,
  encodeRecordingFile,
  InvalidIdError,
  payload,
  RecordingNotFoundError,
  type RecordingSummary,
} from "../format/mod.ts";
import { ReplayStore } from "../replay/mod.ts";
import { readIndexFiles } from "../tests/support/file_index.ts";
import { fileStorage, type RecordingStorage, type SortKey, type SummaryFilter } from "./mod.ts";

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-file-"));
  temps.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

interface Spec {
  id: string;
  view?: string;
  url?: string;
  startedAt?: number;
  /** Event names, one event each, each followed by a render. */
  names?: string[];
  /** Offset of the last event. */
  durationMs?: number;
}

/** A real recording file: a mount, then an event and a render per name. */
function makeRecording(spec: Spec): { summary: RecordingSummary; bytes: Uint8Array } {
  const names = spec.names ?? ["save"];
  const durationMs = spec.durationMs ?? 1_000;
  const url = spec.url ?? `http://localhost/${spec.id}`;
  const columns = { kinds: "m", offsets: [0], labels: [] as string[], payloads: [payload.mount(url, "{}", "{}", encode({ id: spec.id, n: 0 }))] };
  names.forEach((name, i) => {
    const t = Math.round((durationMs * (i + 1)) / names.length);
    columns.kinds += "er";
    columns.offsets.push(t, t);
    columns.labels.push(name);
    columns.payloads.push(payload.event(encode({ i })), payload.render(encode({ n: i + 1 }), []));
  });
  const meta = {
    id: spec.id,
    view: spec.view ?? "SignupForm",
    url,
    sessionKey: "s" + spec.id.length,
    startedAt: spec.startedAt ?? 1_700_000_000_000,
    durationMs: columns.offsets[columns.offsets.length - 1],
    eventCount: columns.kinds.length,
    eventNames: [...new Set(names)],
    truncated: false,
    dropped: 0,
    recovered: false,
    format: "tagged" as const,
  };
  const bytes = encodeRecordingFile(meta, columns);
  return { summary: { ...meta, sizeBytes: bytes.length }, bytes };
}

async function save(storage: RecordingStorage, spec: Spec): Promise<RecordingSummary> {
  const { summary, bytes } = makeRecording(spec);
  await storage.save(summary, bytes);
  return summary;
}

/** Awaits `work` and asserts it rejects with an error `check` accepts. */
async function rejects(work: () => Promise<unknown>, check: (error: unknown) => boolean, message?: string) {
  let thrown: unknown;
  let threw = false;
  try {
    await work();
  } catch (error) {
    threw = true;
    thrown = error;
  }
  assert.ok(threw, message ?? "expected a rejection");
  assert.ok(check(thrown), `${message ?? "rejection"}: unexpected ${(thrown as Error)?.name}: ${(thrown as Error)?.message}`);
}

const ids = (items: RecordingSummary[]) => items.map((s) => s.id);
const sorted = (list: string[]) => [...list].sort();

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path).map((p) => join(name, p)) : [name];
  });
}

/** Silences the storage's loud warnings (rebuilds, corrupt files) for one block, and returns them. */
async function quietly<T>(work: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));
  try {
    return { result: await work(), warnings };
  } finally {
    console.warn = warn;
  }
}

test("save, load, list, delete and clear", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  assert.is(storage.path, root);
  assert.equal((await storage.list()).items, [], "an empty storage lists nothing");

  const a = makeRecording({ id: "rec-a", startedAt: 1_000 });
  await storage.save(a.summary, a.bytes);
  const b = await save(storage, { id: "rec-b", startedAt: 2_000, names: ["x", "y"] });

  assert.ok(existsSync(join(root, "recordings", "rec-a.hrp")));
  assert.ok(existsSync(join(root, "index.json")));
  const loaded = await storage.load("rec-a");
  assert.equal([...loaded], [...a.bytes]);
  const recording = decodeRecordingFile("rec-a", loaded);
  assert.is(recording.events.length, 3);
  assert.equal(recording.eventNames, ["save"]);

  const listed = (await storage.list()).items;
  assert.equal(ids(listed), ["rec-b", "rec-a"], "newest first by default");
  assert.equal(listed[0], b);
  assert.equal(listed[1], a.summary);

  // Saving the same id replaces it.
  const replacement = makeRecording({ id: "rec-a", startedAt: 1_000, names: ["again", "and again"] });
  await storage.save(replacement.summary, replacement.bytes);
  assert.equal((await storage.list()).items.find((s) => s.id === "rec-a")!.eventNames, ["again", "and again"]);
  assert.is((await storage.list()).items.length, 2);

  assert.is(await storage.delete("rec-a"), true);
  assert.is(await storage.delete("rec-a"), false, "nothing left to delete");
  assert.not.ok(existsSync(join(root, "recordings", "rec-a.hrp")));
  await rejects(() => storage.load("rec-a"), (e: unknown) => e instanceof RecordingNotFoundError);
  assert.equal(ids((await storage.list()).items), ["rec-b"]);

  await storage.clear();
  assert.equal((await storage.list()).items, []);
  await rejects(() => storage.load("rec-b"), (e: unknown) => e instanceof RecordingNotFoundError);
  assert.equal(JSON.parse(readFileSync(join(root, "index.json"), "utf8")), {});

  // Usable after a clear.
  await save(storage, { id: "rec-c" });
  assert.equal(ids((await storage.list()).items), ["rec-c"]);
  assert.ok((await storage.load("rec-c")).length > 0);
});

test("cleanup removes recordings older than maxAgeMs", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const now = 10_000_000;
  await save(storage, { id: "old-1", startedAt: now - 5_000 });
  await save(storage, { id: "old-2", startedAt: now - 4_000 });
  await save(storage, { id: "fresh-1", startedAt: now - 500 });
  await save(storage, { id: "fresh-2", startedAt: now - 10 });

  const removed = await storage.cleanup({ maxRecordings: 100, maxAgeMs: 1_000, now });
  assert.equal(sorted(removed), ["old-1", "old-2"]);
  assert.equal(sorted(ids((await storage.list()).items)), ["fresh-1", "fresh-2"]);
  assert.not.ok(existsSync(join(root, "recordings", "old-1.hrp")));
  assert.ok(existsSync(join(root, "recordings", "fresh-1.hrp")));
  await rejects(() => storage.load("old-2"), (e: unknown) => e instanceof RecordingNotFoundError);
  assert.equal(await storage.cleanup({ maxRecordings: 100, maxAgeMs: 1_000, now }), [], "nothing more to clean");
});

test("cleanup keeps only the newest maxRecordings", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  for (let i = 1; i <= 6; i++) await save(storage, { id: `n${i}`, startedAt: i * 1_000 });
  const removed = await storage.cleanup({ maxRecordings: 2, maxAgeMs: Number.MAX_SAFE_INTEGER, now: 7_000 });
  assert.equal(sorted(removed), ["n1", "n2", "n3", "n4"]);
  assert.equal(ids((await storage.list()).items), ["n6", "n5"]);
  assert.equal(sorted(readdirSync(join(root, "recordings"))), ["n5.hrp", "n6.hrp"]);
});

test("the index lets list work without reading recordings", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const kept = await save(storage, { id: "kept" });
  const gone = await save(storage, { id: "gone", startedAt: 1_700_000_000_001 });
  const garbled = await save(storage, { id: "garbled", startedAt: 1_699_000_000_000 });

  rmSync(join(root, "recordings", "gone.hrp"));
  writeFileSync(join(root, "recordings", "garbled.hrp"), "not a recording");

  const listed = (await storage.list()).items;
  assert.equal(listed, [gone, kept, garbled], "the summaries come from the index alone");
  await rejects(() => storage.load("gone"), (e: unknown) => e instanceof RecordingNotFoundError && (e as RecordingNotFoundError).id === "gone");
  assert.ok((await storage.load("kept")).length > 0);
  // A fresh instance (another process) reads the same index.
  assert.equal((await fileStorage({ path: root }).list()).items, [gone, kept, garbled]);
});

test("a corrupt recording file gives CorruptRecordingError for that id only", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const store = new ReplayStore(storage, () => Promise.reject(new Error("no engine in this test")), { maxRecordings: 100, maxRecordingAgeMs: 1e12 });
  await save(storage, { id: "good-1", startedAt: 1 });
  await save(storage, { id: "bad", startedAt: 2 });
  await save(storage, { id: "good-2", startedAt: 3 });
  const path = join(root, "recordings", "bad.hrp");
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 7));

  await rejects(
    () => store.getRecording("bad"),
    (e: unknown) => e instanceof CorruptRecordingError && (e as CorruptRecordingError).id === "bad" && /bad/.test((e as Error).message),
  );
  assert.equal(sorted(ids(await store.listRecordingSummaries())), ["bad", "good-1", "good-2"]);
  assert.is((await store.getRecording("good-1")).events.length, 3);
  assert.is((await store.getRecording("good-2")).id, "good-2");
  const { result: all, warnings } = await quietly(() => store.listRecordings());
  assert.equal(ids(all), ["good-2", "good-1"], "listRecordings skips the corrupt one");
  assert.is(warnings.length, 1);
  assert.match(warnings[0], "bad");
});

test("commits append to index.log instead of rewriting index.json; another reader follows; a delete folds at once and leaves the summary in no file", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  await save(storage, { id: "first" });
  const snapshot = readFileSync(join(root, "index.json"), "utf8");
  for (let i = 0; i < 5; i++) await save(storage, { id: `later-${i}`, url: `http://localhost/later-${i}-page` });
  assert.is(readFileSync(join(root, "index.json"), "utf8"), snapshot, "index.json is not rewritten per commit");
  const lines = readFileSync(join(root, "index.log"), "utf8").trim().split("\n");
  assert.is(lines.filter((line) => line.startsWith('["later-')).length, 5, "one line a saved recording");
  // Another handle (another process) reads the snapshot and the log, then only what the log gains.
  const other = fileStorage({ path: root });
  assert.is((await other.list()).items.length, 6);
  await save(storage, { id: "later-5" });
  assert.is((await other.list()).items.length, 7);
  // Control: the page of a saved recording is in the log.
  assert.ok(readFileSync(join(root, "index.log"), "utf8").includes("later-2-page"));
  assert.is(await storage.delete("later-2"), true);
  assert.not.ok(existsSync(join(root, "index.log")), "folded into index.json");
  for (const file of allFiles(root)) assert.not.ok(readFileSync(join(root, file), "utf8").includes("later-2-page"), `${file} no longer holds it`);
  assert.is((await other.list()).items.length, 6);
  assert.is(Object.keys(JSON.parse(readFileSync(join(root, "index.json"), "utf8"))).length, 6);
});

test("index.log is folded into index.json once it outgrows it, and a reader skips a line still being written", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const names = Array.from({ length: 40 }, (_, i) => `event-name-${i}-`.padEnd(48, "x"));
  let folded = false;
  for (let i = 0; i < 60 && !folded; i++) {
    await save(storage, { id: `big-${i}`, names });
    folded = !existsSync(join(root, "index.log"));
  }
  assert.ok(folded, "the log was folded");
  assert.ok(Object.keys(JSON.parse(readFileSync(join(root, "index.json"), "utf8"))).length > 20);
  const count = (await storage.list({ limit: 1000 })).items.length;
  // A writer in another process is mid-append: the reader takes the complete lines only, without a rebuild.
  const half = JSON.stringify(["partial", makeRecording({ id: "partial" }).summary]) + "\n";
  writeFileSync(join(root, "index.log"), half.slice(0, 40), { flag: "a" });
  const { result, warnings } = await quietly(() => fileStorage({ path: root }).list({ limit: 1000 }));
  assert.is(result.items.length, count);
  assert.equal(warnings, []);
  const reader = fileStorage({ path: root });
  assert.is((await reader.list({ limit: 1000 })).items.length, count);
  writeFileSync(join(root, "index.log"), half.slice(40), { flag: "a" });
  assert.ok((await reader.list({ limit: 1000 })).items.some((s) => s.id === "partial"), "the line, once complete");
});

test("directories are made once, and again when something removed them: a save, a segment, the lock", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  await save(storage, { id: "before" });
  await storage.appendSegment(SEG("rec-1", "i1-000001", 1_700_000_000_123, "a"));
  // Another process clears what this one knows exists.
  rmSync(join(root, "recordings"), { recursive: true });
  rmSync(join(root, "segments"), { recursive: true });
  await save(storage, { id: "after" });
  await storage.appendSegment(SEG("rec-1", "i1-000002", 1_700_000_000_456, "b"));
  assert.ok(existsSync(join(root, "recordings", "after.hrp")));
  assert.equal((await storage.loadSegments("rec-1")).map((s) => s.key), ["i1-000002"]);
  // Even the storage directory itself.
  rmSync(root, { recursive: true });
  await save(storage, { id: "again" });
  assert.equal(ids((await storage.list()).items), ["again"]);
});

test("a corrupt index.json is rebuilt from the recordings, corrupt recordings left out", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const one = await save(storage, { id: "one", startedAt: 10, names: ["a", "b"] });
  const two = await save(storage, { id: "two", startedAt: 20, view: "TodoList" });
  await save(storage, { id: "three", startedAt: 30 });
  writeFileSync(join(root, "recordings", "three.hrp"), new Uint8Array([0x48, 0x52, 0x50, 0x01, 0, 1, 2, 3, 4, 5, 6, 7]));
  writeFileSync(join(root, "index.json"), '{"one": {"id": "one", "trunc');

  const { result, warnings } = await quietly(() => storage.list());
  assert.equal(result.items, [two, one]);
  assert.ok(warnings.some((w) => w.includes("index.json")), "the rebuild is reported");
  assert.ok(warnings.some((w) => w.includes("three")), "the left-out recording is reported");
  const rewritten = JSON.parse(readFileSync(join(root, "index.json"), "utf8"));
  assert.equal(sorted(Object.keys(rewritten)), ["one", "two"]);
  assert.equal(rewritten.one, one);

  // An index that is valid JSON but not an object is rebuilt too.
  writeFileSync(join(root, "index.json"), "[1,2,3]");
  assert.equal(ids((await quietly(() => storage.list())).result.items), ["two", "one"]);
});

test("a deleted index.json is rebuilt from the recordings", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const a = await save(storage, { id: "a", startedAt: 100 });
  const b = await save(storage, { id: "b", startedAt: 200, names: ["go"] });
  rmSync(join(root, "index.json"));

  // Another process opening the directory cold, and this one.
  assert.equal((await quietly(() => fileStorage({ path: root }).list())).result.items, [b, a]);
  rmSync(join(root, "index.json"));
  assert.equal((await quietly(() => storage.list())).result.items, [b, a]);
  assert.ok(existsSync(join(root, "index.json")), "the rebuilt index is written back");
  // And the storage keeps working on top of it.
  await save(storage, { id: "c", startedAt: 300 });
  assert.equal(ids((await storage.list()).items), ["c", "b", "a"]);
});

test("atomic writes leave no temporary files, and 50 concurrent saves all reach the index", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  const recordings = Array.from({ length: 50 }, (_, i) => makeRecording({ id: `c${String(i).padStart(2, "0")}`, startedAt: 1_000 + i }));
  await Promise.all(recordings.map((r) => storage.save(r.summary, r.bytes)));

  const listed = (await storage.list()).items;
  assert.is(listed.length, 50);
  assert.equal(sorted(ids(listed)), recordings.map((r) => r.summary.id));
  const index = readIndexFiles(root);
  assert.is(Object.keys(index).length, 50, "no save lost its index update");
  assert.is(readdirSync(join(root, "recordings")).length, 50);
  const leftovers = allFiles(root).filter((name) => name.includes(".tmp-") || name.includes(".lock"));
  assert.equal(leftovers, []);

  // Concurrent deletes and saves, then a fresh reader.
  await Promise.all([
    ...recordings.slice(0, 20).map((r) => storage.delete(r.summary.id)),
    ...Array.from({ length: 10 }, (_, i) => save(storage, { id: `late${i}`, startedAt: 5_000 + i })),
  ]);
  assert.is((await fileStorage({ path: root }).list()).items.length, 40);
  assert.equal(allFiles(root).filter((name) => name.includes(".tmp-")), []);
});

test("hostile ids are refused with InvalidIdError and nothing is created outside the storage dir", async () => {
  const base = tempDir();
  const root = join(base, "store");
  const storage = fileStorage({ path: root });
  await save(storage, { id: "legit" });
  const store = new ReplayStore(storage, () => Promise.reject(new Error("unused")), { maxRecordings: 1, maxRecordingAgeMs: 1 });
  const hostile = ["../x", "../../escape", "/etc/passwd", "a\0b", "", "a".repeat(101), "a/b", "a.b", "..", "with space", "ünï"];

  for (const id of hostile) {
    const { summary, bytes } = makeRecording({ id: "legit" });
    const isInvalid = (e: unknown) => e instanceof InvalidIdError;
    await rejects(() => storage.save({ ...summary, id }, bytes), isInvalid, `save ${JSON.stringify(id)}`);
    await rejects(() => storage.load(id), isInvalid, `load ${JSON.stringify(id)}`);
    await rejects(() => storage.delete(id), isInvalid, `delete ${JSON.stringify(id)}`);
    await rejects(() => store.getRecording(id), isInvalid, `getRecording ${JSON.stringify(id)}`);
  }
  assert.ok(existsSync(join(base, "store")));
  assert.equal(readdirSync(base), ["store"], "nothing next to the storage dir");
  assert.not.ok(existsSync(join(base, "x")));
  assert.not.ok(existsSync(join(base, "x.hrp")));
  assert.equal(readdirSync(join(root, "recordings")), ["legit.hrp"]);
  assert.equal(ids((await storage.list()).items), ["legit"], "the index holds only the legit id");
  // 100 characters is the longest valid id.
  await save(storage, { id: "b".repeat(100) });
  assert.is((await storage.list()).items.length, 2);
});

// ---- filters, sorting and paging over 25 recordings ----

const VIEWS = ["SignupForm", "TodoList", "PostIndex"];
const NAMES = ["validate", "submit", "toggle", "delete", "search"];
const T0 = 1_760_000_000_000;

function specs(): Spec[] {
  return Array.from({ length: 25 }, (_, i) => ({
    id: `r${String(i).padStart(2, "0")}`,
    view: VIEWS[i % 3],
    url: i % 4 === 0 ? `http://localhost/todos?filter=open&page=${i}` : `http://localhost/${VIEWS[i % 3].toLowerCase()}/${i}`,
    // Ties on purpose: several recordings share a start and a duration.
    startedAt: T0 + Math.floor(i / 2) * 60_000,
    durationMs: (i % 5) * 1_000 + 500,
    names: NAMES.slice(0, 1 + (i % 4)).map((n, k) => (i % 7 === 0 && k === 0 ? "SEARCH-Posts" : n)),
  }));
}

async function filledStorage(): Promise<{ storage: RecordingStorage; all: RecordingSummary[] }> {
  const storage = fileStorage({ path: tempDir() });
  const all: RecordingSummary[] = [];
  for (const spec of specs()) all.push(await save(storage, spec));
  return { storage, all };
}

function expectedOrder(all: RecordingSummary[], key: SortKey, order: "asc" | "desc"): string[] {
  const asc = [...all].sort((a, b) => a[key] - b[key] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ids(order === "asc" ? asc : asc.reverse());
}

test("filters: view, urlContains, from/to, minDurationMs, minEvents, eventName, text", async () => {
  const { storage, all } = await filledStorage();
  const check = async (filter: SummaryFilter, predicate: (s: RecordingSummary) => boolean) => {
    const got = sorted(ids((await storage.list(filter)).items));
    const want = sorted(ids(all.filter(predicate)));
    assert.ok(want.length > 0 && want.length < all.length, `the filter ${JSON.stringify(filter)} must select some, not all`);
    assert.equal(got, want, JSON.stringify(filter));
  };
  await check({ view: "TodoList" }, (s) => s.view === "TodoList");
  await check({ urlContains: "filter=open" }, (s) => s.url.includes("filter=open"));
  const from = T0 + 3 * 60_000;
  const to = T0 + 7 * 60_000;
  await check({ from }, (s) => s.startedAt >= from);
  await check({ to }, (s) => s.startedAt < to);
  await check({ from, to }, (s) => s.startedAt >= from && s.startedAt < to);
  await check({ minDurationMs: 2_500 }, (s) => s.durationMs >= 2_500);
  await check({ minEvents: 7 }, (s) => s.eventCount >= 7);
  await check({ eventName: "toggle" }, (s) => s.eventNames.includes("toggle"));
  await check({ text: "search-posts" }, (s) => s.eventNames.includes("SEARCH-Posts"));
  await check({ text: "todolist" }, (s) => s.view === "TodoList" || s.url.toLowerCase().includes("todolist"));
  await check({ text: "FILTER=OPEN" }, (s) => s.url.includes("filter=open"));
  await check({ view: "SignupForm", minEvents: 5, eventName: "submit" }, (s) => s.view === "SignupForm" && s.eventCount >= 5 && s.eventNames.includes("submit"));

  assert.is((await storage.list({ from, to: from })).items.length, 0, "an empty window");
  assert.is((await storage.list({ view: "Nope" })).items.length, 0);
  assert.is((await storage.list({ eventName: "validat" })).items.length, 0, "eventName matches whole names");
  assert.is((await storage.list({})).items.length, 25);
});

test("sort and order, on every sort key, with ties broken by id", async () => {
  const { storage, all } = await filledStorage();
  assert.equal(ids((await storage.list()).items), expectedOrder(all, "startedAt", "desc"), "default: newest first");
  for (const key of ["startedAt", "durationMs", "eventCount", "sizeBytes"] as SortKey[]) {
    for (const order of ["asc", "desc"] as const) {
      assert.equal(ids((await storage.list({ sort: key, order })).items), expectedOrder(all, key, order), `${key} ${order}`);
    }
  }
});

test("cursor paging: pages concatenate to the full sorted list, with no duplicates", async () => {
  const { storage, all } = await filledStorage();
  const cases: SummaryFilter[] = [
    { limit: 4 },
    { limit: 1, sort: "durationMs", order: "asc" },
    { limit: 7, sort: "eventCount", order: "desc" },
    { limit: 5, sort: "startedAt", order: "asc" },
    { limit: 25 },
    { limit: 3, view: "PostIndex", sort: "durationMs" },
  ];
  for (const filter of cases) {
    const full = ids((await storage.list({ ...filter, limit: undefined })).items);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await storage.list({ ...filter, cursor });
      assert.ok(page.items.length <= filter.limit!, "a page holds at most limit items");
      assert.ok(page.items.length > 0 || pages === 0, "no empty page after the first");
      seen.push(...ids(page.items));
      cursor = page.nextCursor;
      assert.ok(++pages <= 30, "paging ends");
    } while (cursor);
    assert.equal(seen, full, JSON.stringify(filter));
    assert.is(new Set(seen).size, seen.length, "no duplicates");
    assert.is(pages, Math.max(1, Math.ceil(full.length / filter.limit!)));
  }
  const everything = expectedOrder(all, "startedAt", "desc");
  const first = await storage.list({ limit: 10 });
  assert.equal(ids(first.items), everything.slice(0, 10));
  assert.type(first.nextCursor, "string");
  assert.equal(ids((await storage.list({ limit: 10, cursor: first.nextCursor })).items), everything.slice(10, 20));
  assert.is((await storage.list({ limit: 25 })).nextCursor, undefined, "no cursor when everything fits");
});

test("a directory that never existed lists nothing and creates recordings on save", async () => {
  const root = join(tempDir(), "deep", "er");
  const storage = fileStorage({ path: root });
  assert.equal((await storage.list()).items, []);
  await rejects(() => storage.load("none"), (e: unknown) => e instanceof RecordingNotFoundError);
  await save(storage, { id: "first" });
  assert.equal(ids((await storage.list()).items), ["first"]);
});

// ---- segments and claims: the files behind them ----

const SEG = (recordingId: string, key: string, lastAt: number, text = "frames") => ({ recordingId, key, lastAt, text });

test("segments: one file per segment named by its header, owner-only, no temporary files left", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  await storage.appendSegment(SEG("rec-1", "i1-000001", 1_700_000_000_123, "a\tb\nc"));
  await storage.appendSegment(SEG("rec-1", "i1-000002", 1_700_000_001_500.5));
  const dir = join(root, "segments", "rec-1");
  assert.equal(readdirSync(dir).sort(), ["i1-000001.1700000000123.seg", "i1-000002.1700000001500_5.seg"]);
  assert.is(readFileSync(join(dir, "i1-000001.1700000000123.seg"), "utf8"), "a\tb\nc");
  assert.is(statSync(join(dir, "i1-000001.1700000000123.seg")).mode & 0o777, 0o600);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  assert.is(statSync(join(root, "segments")).mode & 0o777, 0o700);
  assert.equal((await storage.listSegments()).sort((a, b) => a.lastAt - b.lastAt), [
    { recordingId: "rec-1", key: "i1-000001", lastAt: 1_700_000_000_123 },
    { recordingId: "rec-1", key: "i1-000002", lastAt: 1_700_000_001_500.5 },
  ]);
  // A retry with another lastAt replaces the file; the directory goes with its last segment.
  await storage.appendSegment(SEG("rec-1", "i1-000001", 1_700_000_000_999, "again"));
  assert.equal(readdirSync(dir).sort(), ["i1-000001.1700000000999.seg", "i1-000002.1700000001500_5.seg"]);
  await storage.deleteSegments("rec-1", ["i1-000001"]);
  assert.ok(existsSync(dir));
  await storage.deleteSegments("rec-1", ["i1-000002"]);
  assert.not.ok(existsSync(dir), "an empty segment directory is removed");
  await storage.appendSegment(SEG("rec-1", "i1-000003", 3));
  assert.is((await storage.loadSegments("rec-1")).length, 1, "and comes back with the next append");
  await rejects(() => storage.appendSegment(SEG("rec-1", "../x", 1)), (e) => e instanceof TypeError && /segment key/.test((e as Error).message));
  await rejects(() => storage.appendSegment(SEG("rec-1", "i1-000004", Number.NaN)), (e) => e instanceof TypeError && /lastAt/.test((e as Error).message));
  await rejects(() => storage.loadSegments("../x"), (e) => e instanceof InvalidIdError);
  assert.equal(allFiles(root).filter((name) => name.endsWith(".tmp") || name.includes(".tmp-")), []);
});

test("a logger in the options gets every warning of the storage's parts, and the console none", async () => {
  const root = tempDir();
  const messages: string[] = [];
  const storage = fileStorage({ path: root, logger: { warn: (m) => void messages.push(m), error: (m) => void messages.push(m) } });
  await save(storage, { id: "one" });
  const old = (Date.now() - 10 * 60_000) / 1000;
  const { warnings } = await quietly(async () => {
    writeFileSync(join(root, "index.json"), "{not json"); // the index part rebuilds it
    assert.equal(ids((await storage.list()).items), ["one"]);
    mkdirSync(join(root, "claims", "rec-c"), { recursive: true }); // the claims part finds a generation that is no claim
    writeFileSync(join(root, "claims", "rec-c", "1"), "garbage");
    assert.ok(await storage.claim("rec-c", "me", 60_000));
    mkdirSync(join(root, "segments", "rec-s"), { recursive: true }); // the segments part publishes an orphan
    const orphan = join(root, "segments", "rec-s", "i9-000001.20.6.deadbeef.tmp");
    writeFileSync(orphan, "frames");
    utimesSync(orphan, old, old);
    assert.is((await storage.loadSegments("rec-s")).length, 1);
    mkdirSync(join(root, "erasures"), { recursive: true }); // the erasures part finds a file that is no mark
    writeFileSync(join(root, "erasures", "junk.json"), "[]");
    assert.equal(await storage.listErasures(), []);
    const temp = join(root, "index.json.tmp-0badf00d"); // the sweep removes what a dead writer left
    writeFileSync(temp, "{");
    utimesSync(temp, old, old);
    await storage.cleanup({ maxRecordings: 100, maxAgeMs: 365 * 24 * 3_600_000 });
    assert.not.ok(existsSync(temp));
  });
  assert.equal(warnings, [], "nothing reaches the console");
  for (const part of ["index.json is unreadable", "is not a claim", "published segment i9-000001", "is not an erasure mark", "removed 1 temporary file"]) {
    assert.ok(messages.some((m) => m.includes(part)), `logged: ${part}\n${messages.join("\n")}`);
  }
  assert.ok(messages.every((m) => !m.startsWith("hono-replay:")), "the logger adds its own prefix");
});

test("segments: a writer killed between write and rename loses nothing; one killed mid-write leaves nothing", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  await storage.appendSegment(SEG("rec-2", "i1-000001", 10, "published"));
  const dir = join(root, "segments", "rec-2");
  const text = "orphaned frames ü";
  const bytes = Buffer.byteLength(text);
  const orphan = join(dir, `i9-000001.20.${bytes}.deadbeef.tmp`);
  const fresh = join(dir, `i9-000002.30.${bytes}.cafecafe.tmp`);
  const partial = join(dir, `i9-000003.40.${bytes + 100}.0badf00d.tmp`);
  for (const file of [orphan, fresh, partial]) writeFileSync(file, text);
  const old = (Date.now() - 10 * 60_000) / 1000;
  utimesSync(orphan, old, old);
  utimesSync(partial, old, old);
  const { result: headers, warnings } = await quietly(() => storage.listSegments());
  assert.equal(headers.map((h) => h.key).sort(), ["i1-000001", "i9-000001"], "the complete orphan is published; a fresh temp may still be renamed by its writer");
  assert.is(warnings.length, 2, warnings.join("\n"));
  assert.not.ok(existsSync(partial), "an incomplete, abandoned temporary file is removed");
  assert.ok(existsSync(fresh), "a recent temporary file is its writer's business");
  const loaded = (await storage.loadSegments("rec-2")).sort((a, b) => a.lastAt - b.lastAt);
  assert.equal(loaded.map((s) => [s.key, s.lastAt, s.text]), [["i1-000001", 10, "published"], ["i9-000001", 20, text]]);
  // Deleting a key removes its temporary files too: a merged segment does not come back.
  await storage.deleteSegments("rec-2", ["i9-000002"]);
  assert.not.ok(existsSync(fresh));
});

test("segments: delete and clear remove segments and claims, keep the index", async () => {
  const root = tempDir();
  const storage = fileStorage({ path: root });
  await save(storage, { id: "kept" });
  await storage.appendSegment(SEG("gone", "i1-000001", 1));
  assert.ok(await storage.claim("gone", "me", 60_000));
  assert.is(await storage.delete("gone"), true);
  assert.not.ok(existsSync(join(root, "segments", "gone")));
  assert.not.ok(existsSync(join(root, "claims", "gone")));
  assert.equal(ids((await storage.list()).items), ["kept"]);
  assert.is(await storage.delete("gone"), false);
  await storage.appendSegment(SEG("active", "i1-000001", 1));
  assert.ok(await storage.claim("active", "me", 60_000));
  await storage.clear();
  assert.equal(await storage.listSegments(), []);
  assert.not.ok(existsSync(join(root, "claims")));
  assert.equal((await storage.list()).items, []);
});

test("claims: generation files, renewal prunes, release removes; an expired claim goes to exactly one of many", async () => {
  const root = tempDir();
  const handles = Array.from({ length: 8 }, () => fileStorage({ path: root }));
  const [a] = handles;
  const dir = join(root, "claims", "rec-3");
  assert.ok(await a.claim("rec-3", "a", 60_000));
  assert.equal(readdirSync(dir), ["1"]);
  assert.is(statSync(join(dir, "1")).mode & 0o777, 0o600);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  const content = JSON.parse(readFileSync(join(dir, "1"), "utf8"));
  assert.is(content.owner, "a");
  assert.ok(content.until > Date.now() + 50_000);
  assert.ok(await a.claim("rec-3", "a", 60_000), "renewed");
  assert.equal(readdirSync(dir), ["2"], "the older generation is pruned");
  await a.release("rec-3", "a");
  assert.not.ok(existsSync(dir), "released: nothing left");
  // A claimer that died left its temporary file: release removes it with the claim; a live claimer's stays.
  assert.ok(await a.claim("rec-4", "a", 60_000));
  const abandoned = join(root, "claims", "rec-4", ".tmp-deadbeef");
  writeFileSync(abandoned, "{}");
  utimesSync(abandoned, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
  await a.release("rec-4", "a");
  assert.not.ok(existsSync(join(root, "claims", "rec-4")), "the abandoned temporary file went with the claim");
  assert.ok(await a.claim("rec-5", "a", 60_000));
  writeFileSync(join(root, "claims", "rec-5", ".tmp-livefile"), "{}");
  await a.release("rec-5", "a");
  assert.equal(readdirSync(join(root, "claims", "rec-5")), [".tmp-livefile"], "a live claimer's file stays");
  for (let round = 0; round < 5; round++) {
    const id = `rec-exp-${round}`;
    assert.ok(await a.claim(id, "first", 0), "a claim that expires at once");
    const won = await Promise.all(handles.map((h, i) => h.claim(id, `racer-${i}`, 60_000)));
    assert.is(won.filter(Boolean).length, 1, `round ${round}: ${won}`);
    assert.equal(readdirSync(join(root, "claims", id)), ["2"]);
  }
});

test("claims: two processes claiming the same 50 recordings at once take each exactly once", async () => {
  const root = tempDir();
  const scratch = tempDir();
  const child = join(scratch, "claimer.mjs");
  const storageUrl = new URL("./file.ts", import.meta.url).href;
  // A barrier: each claimer says it is ready and starts when both are, however long each took to start.
  writeFileSync(child, `
    import { readdirSync, writeFileSync } from "node:fs";
    import { join } from "node:path";
    const { fileStorage } = await import(${JSON.stringify(storageUrl)});
    const [root, barrier, owner] = process.argv.slice(-3);
    const storage = fileStorage({ path: root });
    writeFileSync(join(barrier, owner), "");
    for (const until = Date.now() + 60_000; readdirSync(barrier).length < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 2));
    const ids = Array.from({ length: 50 }, (_, i) => "0mp-" + i);
    const won = await Promise.all(ids.map((id) => storage.claim(id, owner, 60_000)));
    console.log(JSON.stringify(ids.filter((_, i) => won[i])));
  `);
  const barrier = join(scratch, "barrier");
  mkdirSync(barrier);
  const deno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const config = fileURLToPath(new URL("../deno.json", import.meta.url));
  const run = (owner: string) =>
    new Promise<string[]>((resolve, reject) => {
      const argv = deno ? ["run", "-A", "--quiet", "--config", config, child] : ["--import", "tsx", child];
      const proc = spawn(process.execPath, [...argv, root, barrier, owner], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      proc.stdout.on("data", (d) => (out += d));
      proc.stderr.on("data", (d) => (err += d));
      proc.on("error", reject);
      proc.on("close", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`claimer ${owner} exited ${code}: ${err}`))));
    });
  const [one, two] = await Promise.all([run("proc-1"), run("proc-2")]);
  assert.is(one.length + two.length, 50, `every id claimed once in all (${one.length} + ${two.length})`);
  assert.equal([...one, ...two].sort(), Array.from({ length: 50 }, (_, i) => "0mp-" + i).sort());
  if (process.env.SHOW_SPLIT) console.log(`split ${one.length}/${two.length}`);
});

test.run();
