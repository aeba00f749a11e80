/**
 * The conformance suite every storage backend passes, for any test runner:
 * `storageConformance(target)` returns the cases, and `register(test)` hands
 * them to a runner whose `test(name, fn)` runs `fn` — node:test, Deno.test,
 * vitest, bun:test, uvu. A backend's test file is
 *
 *   import { test } from "node:test";
 *   import { storageConformance } from "hono-replay/conformance";
 *   storageConformance({ name: "mine", open: () => myStorage() }).register(test);
 *
 * Invariants: it needs nothing but the library and the runtime (assertions
 * are node:assert, which Node, Deno and Bun all have); the cases run in order,
 * on one storage opened before the first and closed after the last, cleared
 * before each.
 *
 * It covers save/load/list with every filter, sort and page, replace, delete,
 * clear, cleanup by age and by count (also from two instances at once),
 * concurrent writers, a 10,000-event recording, unknown and hostile ids,
 * corrupt stored data, a session recorded through createReplay, and erasure
 * (conformance_erasure.ts).
 *
 * The fixtures are built with the format helpers, the way the drain engine
 * builds recordings, so they are real recording files.
 */

import { Hono } from "hono";
import { h } from "preact";
import * as nodeAssert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CorruptRecordingError,
  decodeRecordingFile,
  encode,
  encodeRecordingFile,
  type Format,
  FrameKind,
  InvalidIdError,
  payload,
  type RecordingColumns,
  RecordingNotFoundError,
  type RecordingSummary,
  type ReplayEvent,
} from "../format/mod.ts";
import type { ReplayEnv } from "../recorder/mod.ts";
import { Player, ReplayStore } from "../replay/mod.ts";
import { erasureCases } from "./conformance_erasure.ts";
import { idsToClean, pageSummaries } from "./filter.ts";
import type { RecordingStorage, SortKey, SummaryFilter } from "./types.ts";
import { createReplay } from "../mod.ts";

type Maybe<T> = T | Promise<T>;

/** The assertions the cases use, on node:assert (no test library needed). */
const assert = {
  equal: (actual: unknown, expected: unknown, message?: string) => nodeAssert.deepStrictEqual(actual, expected, message),
  is: (actual: unknown, expected: unknown, message?: string) => nodeAssert.strictEqual(actual, expected, message),
  ok: (value: unknown, message?: string) => nodeAssert.ok(value, message),
  match: (text: string, pattern: string | RegExp, message?: string) =>
    typeof pattern === "string" ? nodeAssert.ok(text.includes(pattern), message ?? `${JSON.stringify(text)} includes ${JSON.stringify(pattern)}`) : nodeAssert.match(text, pattern, message),
  type: (value: unknown, type: string, message?: string) => nodeAssert.strictEqual(typeof value, type, message),
  instance: (value: unknown, type: new (...args: never[]) => unknown, message?: string) => nodeAssert.ok(value instanceof type, message),
  unreachable: (message: string): never => nodeAssert.fail(message),
  not: { ok: (value: unknown, message?: string) => nodeAssert.ok(!value, message) },
};

/** One conformance test. */
export interface ConformanceCase {
  name: string;
  fn(): Promise<void>;
}

/** The suite for one backend: its cases and their set-up, for any runner. */
export interface ConformanceSuite {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
  /** Opens the storage (and the second handle). Before the first case. */
  setup(): Promise<void>;
  /** Clears the storage. Before each case. */
  beforeEach(): Promise<void>;
  /** Clears and closes. After the last case. */
  teardown(): Promise<void>;
  /**
   * Hands every case to `test(name, fn)` (node:test's `test`, `Deno.test`,
   * vitest's `test`…), in order; the first opens the storage, the last closes it.
   */
  register(test: (name: string, fn: () => Promise<void>) => unknown): void;
}

export interface StorageUnderTest {
  /** Shown in the suite's name. */
  name: string;
  /** The storage to test. Opened once per suite; the suite clears it before each test. */
  open(): Maybe<RecordingStorage>;
  /**
   * A second, independent handle on the same data (another connection or
   * instance), for the concurrency tests and createReplay. Default: the same object.
   */
  openAnother?(): Maybe<RecordingStorage>;
  /** Damages one recording's stored bytes where this backend keeps them. Default: saves damaged bytes through save(). */
  corrupt?(storage: RecordingStorage, id: string, bytes: Uint8Array): Promise<void>;
  /** Whether save() refuses invalid ids with InvalidIdError. Default true. */
  validatesIds?: boolean;
  /** Called after the suite, after the storages are closed. */
  teardown?(): Maybe<void>;
}

// ─── Fixtures ────────────────────────────────────────────────────────────────

/** The view fixture recordings render with. */
export function FixtureView(props: { label: string; count: number }) {
  return h("p", null, `${props.label} ${props.count}`);
}

export interface FixtureOptions {
  id: string;
  view?: string;
  url?: string;
  sessionKey?: string;
  startedAt: number;
  durationMs?: number;
  /** Events in all, the mount included. Default 3. */
  events?: number;
  /** Names the user events cycle through. Default ["click"]. */
  eventNames?: string[];
  /** Characters of pseudo-random text in each event's params, so big recordings stay big when compressed. */
  noise?: number;
  format?: Format;
  recovered?: boolean;
}

export interface Fixture {
  summary: RecordingSummary;
  bytes: Uint8Array;
  events: ReplayEvent[];
}

/**
 * A recording file as the drain engine writes it: a mount, then pairs of a
 * user event and the render it caused. The last render's count is the number
 * of events recorded after the mount that were renders.
 */
export function fixtureRecording(o: FixtureOptions): Fixture {
  const format = o.format ?? "tagged";
  const n = Math.max(1, o.events ?? 3);
  const duration = o.durationMs ?? (n - 1) * 10;
  const names = o.eventNames ?? ["click"];
  const label = o.view ?? "Fixture";
  let seed = hashSeed(o.id);
  const noise = () => {
    let s = "";
    for (let i = 0; i < (o.noise ?? 0); i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      s += (seed >>> 26).toString(36);
    }
    return s;
  };
  const events: ReplayEvent[] = [];
  const url = o.url ?? `http://localhost/${label.toLowerCase()}`;
  events.push({ kind: "mount", t: 0, url, params: {}, session: { user: null }, assigns: { label, count: 0 } });
  let count = 0;
  for (let i = 1; i < n; i++) {
    const t = n === 1 ? 0 : Math.round((i * duration) / (n - 1));
    if (i % 2 === 1 && names.length) {
      events.push({ kind: "event", t, name: names[((i - 1) / 2) % names.length], params: { i, noise: noise() } });
    } else {
      events.push({ kind: "render", t, changed: { count: ++count }, removed: [], full: false });
    }
  }
  const columns = columnsOf(events, format);
  const meta = {
    id: o.id,
    view: label,
    url,
    sessionKey: o.sessionKey ?? "s3ss10n",
    startedAt: o.startedAt,
    durationMs: events[events.length - 1].t,
    eventCount: events.length,
    eventNames: [...new Set(events.flatMap((e) => (e.kind === "event" ? [e.name] : [])))],
    truncated: false,
    dropped: 0,
    recovered: o.recovered ?? false,
    format,
  };
  const bytes = encodeRecordingFile(meta, columns);
  return { summary: { ...meta, sizeBytes: bytes.length }, bytes, events };
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Columns the way the drainer accumulates them from frames. */
function columnsOf(events: ReplayEvent[], format: Format): RecordingColumns {
  const c: RecordingColumns = { kinds: "", offsets: [], labels: [], payloads: [] };
  const enc = (v: unknown) => encode(v, format);
  for (const e of events) {
    c.offsets.push(e.t);
    if (e.kind === "mount") {
      c.kinds += FrameKind.mount;
      c.payloads.push(payload.mount(e.url, enc(e.params), enc(e.session), enc(e.assigns)));
    } else if (e.kind === "event") {
      c.kinds += FrameKind.event;
      c.labels.push(e.name);
      c.payloads.push(payload.event(enc(e.params)));
    } else if (e.kind === "render") {
      c.kinds += FrameKind.render;
      c.payloads.push(payload.render(enc(e.changed), e.removed));
    } else {
      throw new Error(`fixture: no ${e.kind} events`);
    }
  }
  return c;
}

/** Bytes that keep the file header but whose compressed body is damaged. */
export function damaged(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let i = Math.min(12, out.length - 1); i < out.length; i += 7) out[i] ^= 0x5a;
  return out;
}

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const MINUTE = 60_000;

/**
 * Fourteen recordings that differ in every field a filter or sort looks at,
 * with ties (equal durations, equal event counts, equal start times) so that
 * ordering by id is exercised too.
 */
export function fixtureSet(): Fixture[] {
  const rows: FixtureOptions[] = [
    { id: "0aaa-signup-1", view: "SignupForm", url: "http://localhost/signup", startedAt: T0, durationMs: 4_000, events: 9, eventNames: ["validate", "submit"] },
    { id: "0aab-signup-2", view: "SignupForm", url: "http://localhost/signup?ref=mail", startedAt: T0 + 1 * MINUTE, durationMs: 12_000, events: 41, eventNames: ["validate"] },
    { id: "0aac-todos-1", view: "TodoList", url: "http://localhost/todos", startedAt: T0 + 2 * MINUTE, durationMs: 4_000, events: 7, eventNames: ["add", "toggle"], sessionKey: "s3ss10n2" },
    { id: "0aad-todos-2", view: "TodoList", url: "http://localhost/todos?filter=done", startedAt: T0 + 3 * MINUTE, durationMs: 30_000, events: 9, eventNames: ["add", "delete"] },
    { id: "0aae-posts-1", view: "PostIndex", url: "http://localhost/posts?q=ring", startedAt: T0 + 4 * MINUTE, durationMs: 900, events: 3, eventNames: ["search"] },
    { id: "0aaf-posts-2", view: "PostIndex", url: "http://localhost/posts?tag=deno", startedAt: T0 + 5 * MINUTE, durationMs: 60_000, events: 101, eventNames: ["search", "Open-Post"] },
    { id: "0aag-signup-3", view: "SignupForm", url: "http://localhost/signup", startedAt: T0 + 6 * MINUTE, durationMs: 12_000, events: 9, eventNames: ["submit"] },
    { id: "0aah-todos-3", view: "TodoList", url: "http://localhost/todos", startedAt: T0 + 7 * MINUTE, durationMs: 2_500, events: 21, eventNames: ["toggle"] },
    { id: "0aai-posts-3", view: "PostIndex", url: "http://localhost/posts", startedAt: T0 + 8 * MINUTE, durationMs: 7_000, events: 5, eventNames: ["search"], sessionKey: "s3ss10n2" },
    { id: "0aaj-signup-4", view: "SignupForm", url: "http://localhost/signup?ref=ad", startedAt: T0 + 9 * MINUTE, durationMs: 1_000, events: 3, eventNames: ["validate"] },
    // Same start as the one before: sorting by start falls back to the id.
    { id: "0aak-todos-4", view: "TodoList", url: "http://localhost/todos?filter=open", startedAt: T0 + 9 * MINUTE, durationMs: 4_000, events: 9, eventNames: ["add"] },
    { id: "0aal-posts-4", view: "PostIndex", url: "http://localhost/posts?q=Replay", startedAt: T0 + 11 * MINUTE, durationMs: 15_000, events: 13, eventNames: ["search", "open-post"], recovered: true },
    { id: "0aam-signup-5", view: "SignupForm", url: "http://localhost/signup", startedAt: T0 + 12 * MINUTE, durationMs: 3_000, events: 5, eventNames: ["validate", "submit"], format: "json" },
    { id: "0aan-todos-5", view: "TodoList", url: "http://localhost/todos", startedAt: T0 + 13 * MINUTE, durationMs: 9_000, events: 15, eventNames: ["toggle", "delete"] },
  ];
  return rows.map(fixtureRecording);
}

const HOSTILE_IDS = [
  "../../etc/passwd",
  "..",
  "a/b",
  "a\\b",
  "",
  " ",
  "x".repeat(101),
  "%2e%2e%2f",
  "id\u0000",
  "é",
  "a.b",
  "<script>",
  "'; DROP TABLE replay_recordings; --",
];

// ─── The suite ───────────────────────────────────────────────────────────────

const ids = (items: RecordingSummary[]) => items.map((s) => s.id);

async function rejects(work: () => Promise<unknown>, ...types: (new (...args: never[]) => Error)[]): Promise<Error> {
  try {
    await work();
  } catch (error) {
    assert.ok(types.some((t) => error instanceof t), `expected ${types.map((t) => t.name).join(" or ")}, got ${(error as Error)?.stack ?? error}`);
    return error as Error;
  }
  assert.unreachable(`expected ${types.map((t) => t.name).join(" or ")}, nothing was thrown`);
  throw new Error("unreachable");
}

async function saveAll(storage: RecordingStorage, fixtures: Fixture[]) {
  for (const f of fixtures) await storage.save(f.summary, f.bytes);
}

/** A handle whose close() does nothing: createReplay closes its storage, the suite closes its own. */
function borrowed(storage: RecordingStorage): RecordingStorage {
  return { ...storage, close: async () => {} };
}

/** The conformance cases for one backend; see the module's doc for running them. */
export function storageConformance(target: StorageUnderTest): ConformanceSuite {
  const cases: ConformanceCase[] = [];
  const test = (name: string, fn: () => Promise<void>) => void cases.push({ name, fn });
  let storage!: RecordingStorage;
  let other!: RecordingStorage;
  const store = () => new ReplayStore(storage, () => Promise.reject(new Error("no engine in this test")), { maxRecordings: 1000, maxRecordingAgeMs: 1e12 });

  const conformance: ConformanceSuite = {
    name: `${target.name} storage conformance`,
    cases,
    async setup() {
      storage = await target.open();
      other = target.openAnother ? await target.openAnother() : storage;
    },
    async beforeEach() {
      await storage.clear();
    },
    async teardown() {
      await storage.clear().catch((error) => console.warn(`conformance: clearing after the suite failed: ${error?.message ?? error}`));
      if (other !== storage) await other.close?.();
      await storage.close?.();
      await target.teardown?.();
    },
    register(runnerTest) {
      let opened: Promise<void> | undefined;
      cases.forEach((c, i) =>
        runnerTest(`${conformance.name}: ${c.name}`, async () => {
          await (opened ??= conformance.setup());
          try {
            await conformance.beforeEach();
            await c.fn();
          } finally {
            if (i === cases.length - 1) await conformance.teardown();
          }
        })
      );
    },
  };

  test("save, then load gives the same bytes and list gives the same summary", async () => {
    const [a, b] = fixtureSet();
    await storage.save(a.summary, a.bytes);
    await storage.save(b.summary, b.bytes);
    assert.equal([...(await storage.load(a.summary.id))], [...a.bytes]);
    const loaded = decodeRecordingFile(a.summary.id, await storage.load(a.summary.id));
    assert.equal(loaded.events, a.events);
    const { items, nextCursor } = await storage.list();
    assert.is(nextCursor, undefined);
    assert.equal(items, [b.summary, a.summary], "newest first, every field as saved");
    // The other handle sees the same.
    assert.equal(ids((await other.list()).items), [b.summary.id, a.summary.id]);
  });

  test("saving an id again replaces that recording", async () => {
    const first = fixtureRecording({ id: "0abc-replace", startedAt: T0, events: 3 });
    const second = fixtureRecording({ id: "0abc-replace", startedAt: T0, events: 7, eventNames: ["again"], recovered: true });
    await storage.save(first.summary, first.bytes);
    await storage.save(second.summary, second.bytes);
    assert.equal((await storage.list()).items, [second.summary]);
    assert.equal(decodeRecordingFile("0abc-replace", await storage.load("0abc-replace")).events, second.events);
  });

  test("every filter, alone and combined, gives what the reference filter gives", async () => {
    const all = fixtureSet();
    await saveAll(storage, all);
    const summaries = all.map((f) => f.summary);
    const filters: SummaryFilter[] = [
      { view: "TodoList" },
      { view: "Nope" },
      { sessionKey: "s3ss10n2" },
      { sessionKey: "s3ss10n", view: "TodoList" },
      { urlContains: "?ref=" },
      { urlContains: "posts?q" },
      { from: T0 + 5 * MINUTE },
      { to: T0 + 5 * MINUTE },
      { from: T0 + 3 * MINUTE, to: T0 + 9 * MINUTE },
      { minDurationMs: 12_000 },
      { minEvents: 10 },
      { eventName: "submit" },
      { eventName: "Open-Post" },
      { text: "SIGNUP" },
      { text: "open-post" },
      { text: "filter=done" },
      { view: "SignupForm", eventName: "validate", minEvents: 5 },
      { view: "PostIndex", text: "replay", from: T0 },
      { urlContains: "todos", minDurationMs: 4_000, to: T0 + 13 * MINUTE },
    ];
    for (const filter of filters) {
      const expected = ids(pageSummaries(summaries, filter).items);
      const got = ids((await storage.list(filter)).items);
      assert.equal(got, expected, `list(${JSON.stringify(filter)})`);
      if (!("view" in filter && filter.view === "Nope")) {
        assert.ok(got.length > 0 && got.length < all.length, `${JSON.stringify(filter)} narrows the list`);
      }
    }
    assert.equal((await storage.list({ view: "Nope" })).items, []);
    // Spot checks that do not lean on the reference.
    assert.equal(ids((await storage.list({ eventName: "submit", order: "asc" })).items), ["0aaa-signup-1", "0aag-signup-3", "0aam-signup-5"]);
    assert.equal(ids((await storage.list({ text: "REPLAY" })).items), ["0aal-posts-4"], "case-insensitive");
    assert.equal(ids((await storage.list({ from: T0 + 9 * MINUTE, to: T0 + 11 * MINUTE })).items), ["0aak-todos-4", "0aaj-signup-4"]);
    assert.equal(ids((await storage.list({ sessionKey: "s3ss10n2" })).items), ["0aai-posts-3", "0aac-todos-1"], "one session's recordings");
  });

  test("awkward text in views, URLs and event names survives and filters", async () => {
    const names = ['a"b', "c,d", "e\\f", "{x}", "NULL", " sp ", "ü'q", "%_", "\u{1F600}"];
    const awkward = fixtureRecording({
      id: "0awk-1",
      view: "Ünïcode_View",
      url: "http://localhost/p?q=%25_%27%22&x=\u{1F600}",
      startedAt: T0,
      events: 2 * names.length + 1,
      eventNames: names,
    });
    const plain = fixtureRecording({ id: "0awk-2", startedAt: T0 + 1, eventNames: ["plain"] });
    await saveAll(storage, [awkward, plain]);
    assert.equal((await storage.list({ view: "Ünïcode_View" })).items, [awkward.summary]);
    for (const name of names) {
      assert.equal(ids((await storage.list({ eventName: name })).items), ["0awk-1"], `eventName ${JSON.stringify(name)}`);
    }
    assert.equal(ids((await storage.list({ urlContains: "%25_%27" })).items), ["0awk-1"], "% and _ are not wildcards");
    assert.equal(ids((await storage.list({ urlContains: "%_" })).items), [], "% and _ are not wildcards");
    assert.equal(ids((await storage.list({ text: "ÜNÏCODE" })).items), ["0awk-1"]);
    assert.equal(ids((await storage.list({ text: "\u{1F600}" })).items), ["0awk-1"]);
  });

  test("every sort key and order, and paging through each, agree with the reference", async () => {
    const all = fixtureSet();
    await saveAll(storage, all);
    const summaries = all.map((f) => f.summary);
    const keys: SortKey[] = ["startedAt", "durationMs", "eventCount", "sizeBytes"];
    for (const sort of keys) {
      for (const order of ["asc", "desc"] as const) {
        for (const extra of [{}, { view: "TodoList" }, { minEvents: 5 }] as SummaryFilter[]) {
          const filter = { sort, order, ...extra };
          const expected = ids(pageSummaries(summaries, filter).items);
          assert.equal(ids((await storage.list(filter)).items), expected, `sorted ${JSON.stringify(filter)}`);
          const values = (await storage.list(filter)).items.map((s) => s[sort]);
          const sorted = [...values].sort((a, b) => (order === "asc" ? a - b : b - a));
          assert.equal(values, sorted, `${sort} ${order} is in order`);
          // Page by 4 (and by 1 once): every item once, in the same order.
          for (const limit of sort === "startedAt" && order === "desc" ? [1, 4] : [4]) {
            const paged: string[] = [];
            let cursor: string | undefined;
            let pages = 0;
            do {
              const page = await storage.list({ ...filter, limit, cursor });
              assert.ok(page.items.length <= limit, "a page holds at most `limit` items");
              paged.push(...ids(page.items));
              cursor = page.nextCursor;
              assert.ok(++pages <= all.length + 1, "paging ends");
            } while (cursor);
            assert.equal(paged, expected, `paged by ${limit}: ${JSON.stringify(filter)}`);
          }
        }
      }
    }
    // The default: newest first; ties on the start time by id.
    assert.equal(ids((await storage.list()).items), ids(pageSummaries(summaries).items));
    const defaultPage = await storage.list({ limit: 3 });
    assert.equal(ids(defaultPage.items), ["0aan-todos-5", "0aam-signup-5", "0aal-posts-4"]);
    assert.type(defaultPage.nextCursor, "string");
    const lastPage = await storage.list({ limit: 100 });
    assert.is(lastPage.items.length, all.length);
    assert.is(lastPage.nextCursor, undefined, "the last page has no cursor");
  });

  test("delete removes one recording and reports whether it existed", async () => {
    const all = fixtureSet().slice(0, 4);
    await saveAll(storage, all);
    assert.is(await storage.delete(all[1].summary.id), true);
    assert.is(await storage.delete(all[1].summary.id), false, "already gone");
    assert.is(await other.delete("0zzz-never-saved"), false);
    await rejects(() => storage.load(all[1].summary.id), RecordingNotFoundError);
    assert.equal(ids((await storage.list({ order: "asc" })).items), [all[0], all[2], all[3]].map((f) => f.summary.id));
    for (const f of [all[0], all[2], all[3]]) assert.equal([...(await storage.load(f.summary.id))], [...f.bytes]);
  });

  test("clear removes everything, and the storage keeps working after", async () => {
    await saveAll(storage, fixtureSet());
    await storage.clear();
    assert.equal((await storage.list()).items, []);
    assert.equal((await other.list()).items, []);
    await rejects(() => storage.load("0aaa-signup-1"), RecordingNotFoundError);
    const again = fixtureRecording({ id: "0aaz-after-clear", startedAt: T0 });
    await storage.save(again.summary, again.bytes);
    assert.equal(ids((await storage.list()).items), ["0aaz-after-clear"]);
  });

  test("cleanup by age deletes what is older than maxAgeMs, and only that", async () => {
    const all = fixtureSet();
    await saveAll(storage, all);
    const policy = { maxRecordings: 1000, maxAgeMs: 10 * MINUTE, now: T0 + 16 * MINUTE };
    const deleted = await storage.cleanup(policy);
    const expected = all.filter((f) => f.summary.startedAt < T0 + 6 * MINUTE).map((f) => f.summary.id);
    assert.is(expected.length, 6);
    assert.equal([...deleted].sort(), expected.sort());
    assert.equal(ids((await storage.list({ order: "asc" })).items), all.slice(6).map((f) => f.summary.id));
    for (const id of expected) await rejects(() => storage.load(id), RecordingNotFoundError);
    assert.equal(await storage.cleanup(policy), [], "nothing more to delete");
  });

  test("cleanup by count keeps the newest maxRecordings", async () => {
    const all = fixtureSet();
    await saveAll(storage, all);
    const deleted = await storage.cleanup({ maxRecordings: 5, maxAgeMs: 1e12, now: T0 + 20 * MINUTE });
    const newest = ids(pageSummaries(all.map((f) => f.summary)).items).slice(0, 5);
    assert.equal(ids((await storage.list()).items), newest);
    assert.is(deleted.length, all.length - 5);
    assert.equal([...deleted].sort(), all.map((f) => f.summary.id).filter((id) => !newest.includes(id)).sort());
    for (const id of newest) decodeRecordingFile(id, await storage.load(id));
  });

  test("cleanup run by two instances at once deletes each recording once, and nothing else", async () => {
    const all = fixtureSet();
    await saveAll(storage, all);
    const policy = { maxRecordings: 9, maxAgeMs: 8 * MINUTE, now: T0 + 15 * MINUTE };
    const expected = idsToClean(all.map((f) => f.summary), policy);
    assert.is(expected.length, 7, "the age limit removes more than the count limit would (5)");
    const results = await Promise.all([storage.cleanup(policy), other.cleanup(policy), storage.cleanup(policy), other.cleanup(policy)]);
    const deleted = results.flat();
    assert.equal([...deleted].sort(), [...expected].sort(), "each doomed id reported once in all");
    assert.equal(
      ids((await storage.list()).items),
      ids(pageSummaries(all.map((f) => f.summary)).items).filter((id) => !expected.includes(id)),
    );
  });

  test("concurrent writers on two handles: every recording is kept whole", async () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      fixtureRecording({ id: `0c${String(i).padStart(2, "0")}-writer`, startedAt: T0 + i * 1000, events: 5 + (i % 7), noise: 40 }));
    await Promise.all(many.map((f, i) => (i % 2 ? other : storage).save(f.summary, f.bytes)));
    assert.equal(ids((await storage.list({ order: "asc" })).items), many.map((f) => f.summary.id));
    const loaded = await Promise.all(many.map((f, i) => (i % 3 ? storage : other).load(f.summary.id)));
    loaded.forEach((bytes, i) => assert.equal([...bytes], [...many[i].bytes], `recording ${i}`));
    // Two writers racing on one id: one of them wins, whole.
    const a = fixtureRecording({ id: "0cxx-race", startedAt: T0, events: 11, noise: 30 });
    const b = fixtureRecording({ id: "0cxx-race", startedAt: T0, events: 25, noise: 30, eventNames: ["other"] });
    await Promise.all([storage.save(a.summary, a.bytes), other.save(b.summary, b.bytes)]);
    const winner = decodeRecordingFile("0cxx-race", await storage.load("0cxx-race"));
    assert.ok([11, 25].includes(winner.events.length), "one writer's recording, not a mix");
    assert.is((await storage.list({ urlContains: "fixture" })).items.filter((s) => s.id === "0cxx-race").length, 1);
  });

  test("a 10,000-event recording is stored, listed and replayed whole", async () => {
    const big = fixtureRecording({ id: "0big-10k", view: "Fixture", startedAt: T0, events: 10_000, durationMs: 3_600_000, noise: 120, eventNames: ["type", "paste"] });
    assert.ok(big.bytes.length > 512 * 1024, `the fixture is large (${big.bytes.length} bytes)`);
    const small = fixtureRecording({ id: "0big-small", startedAt: T0 + 1 });
    await storage.save(big.summary, big.bytes);
    await storage.save(small.summary, small.bytes);
    const [summary] = (await storage.list({ minEvents: 10_000 })).items;
    assert.equal(summary, big.summary);
    const bytes = await other.load("0big-10k");
    assert.is(bytes.length, big.bytes.length);
    assert.equal([...bytes], [...big.bytes]);
    const recording = await store().getRecording("0big-10k");
    assert.is(recording.events.length, 10_000);
    assert.equal(recording.events[9_999], big.events[9_999]);
    const player = new Player(recording, FixtureView);
    assert.is(player.frameCount, 5_000);
    assert.is(player.renderFrame(player.frameCount - 1).html, "<p>Fixture 4999</p>");
    assert.is(player.renderAt(1_800_000).html, "<p>Fixture 2499</p>");
  });

  test("unknown ids are RecordingNotFoundError; hostile ids touch nothing", async () => {
    const kept = fixtureSet().slice(0, 3);
    await saveAll(storage, kept);
    const error = await rejects(() => storage.load("0zzz-unknown"), RecordingNotFoundError);
    assert.is((error as RecordingNotFoundError).id, "0zzz-unknown");
    await rejects(() => store().getRecording("0zzz-unknown"), RecordingNotFoundError);
    for (const id of HOSTILE_IDS) {
      await rejects(() => storage.load(id), InvalidIdError, RecordingNotFoundError);
      try {
        assert.is(await storage.delete(id), false, `delete(${JSON.stringify(id)})`);
      } catch (error) {
        assert.instance(error, InvalidIdError);
      }
      if (target.validatesIds !== false) {
        const hostile = { ...kept[0].summary, id };
        await rejects(() => storage.save(hostile, kept[0].bytes), InvalidIdError);
      }
      await rejects(() => store().getRecording(id), InvalidIdError);
      await rejects(() => store().deleteRecording(id), InvalidIdError);
    }
    assert.equal(ids((await storage.list({ order: "asc" })).items), kept.map((f) => f.summary.id));
    for (const f of kept) assert.equal([...(await storage.load(f.summary.id))], [...f.bytes]);
  });

  test("corrupt stored data: a clear error for that recording, every other one still lists and replays", async () => {
    const all = fixtureSet().slice(0, 5);
    await saveAll(storage, all);
    const victim = all[2];
    if (target.corrupt) await target.corrupt(storage, victim.summary.id, victim.bytes);
    else await storage.save(victim.summary, damaged(victim.bytes));
    const error = await rejects(() => store().getRecording(victim.summary.id), CorruptRecordingError);
    assert.is((error as CorruptRecordingError).id, victim.summary.id);
    assert.match(error.message, victim.summary.id);
    assert.equal(ids((await storage.list({ order: "asc" })).items), all.map((f) => f.summary.id), "still listed, with the others");
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (message: string) => warnings.push(String(message));
    let good;
    try {
      good = await store().listRecordings({ order: "asc" });
    } finally {
      console.warn = warn;
    }
    assert.equal(good.map((r) => r.id), all.filter((f) => f !== victim).map((f) => f.summary.id));
    assert.is(warnings.length, 1);
    assert.match(warnings[0], victim.summary.id);
    for (const recording of good) {
      const last = new Player(recording, FixtureView).renderFrame(recording.events.filter((e) => e.kind !== "event").length - 1);
      assert.match(last.html, /^<p>\w+ \d+<\/p>$/);
    }
    // Deleting the corrupt one works and leaves the rest.
    assert.is(await storage.delete(victim.summary.id), true);
    assert.is((await storage.list()).items.length, all.length - 1);
  });

  // ─── Segments: one recording written by several instances ─────────────────

  const seg = (recordingId: string, key: string, lastAt: number, text = `${recordingId}\ts\t0\t0\t\t{}`) => ({ recordingId, key, lastAt, text });
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

  test("segments: appended, listed by header, loaded whole, replaced by key, deleted by key", async () => {
    const long = "x\t".repeat(50_000) + "ü€😀";
    await storage.appendSegment(seg("0rec-a", "i1-000001", 1_000));
    await storage.appendSegment(seg("0rec-a", "i2-000001", 2_000, long));
    await storage.appendSegment(seg("0rec-b", "i1-000001", 3_000));
    const loaded = (await other.loadSegments("0rec-a")).sort(byKey);
    assert.equal(loaded.map((s) => [s.recordingId, s.key, s.lastAt]), [["0rec-a", "i1-000001", 1_000], ["0rec-a", "i2-000001", 2_000]]);
    assert.is(loaded[1].text, long, "text survives whole, any characters");
    const headers = (await other.listSegments()).sort((a, b) => a.lastAt - b.lastAt);
    assert.equal(headers.map((h) => [h.recordingId, h.key, h.lastAt]), [["0rec-a", "i1-000001", 1_000], ["0rec-a", "i2-000001", 2_000], ["0rec-b", "i1-000001", 3_000]]);
    assert.not.ok("text" in headers[0] && (headers[0] as { text?: string }).text, "listing does not carry the text");
    // A retried append (same key) replaces, never duplicates.
    await storage.appendSegment(seg("0rec-a", "i1-000001", 1_500, "again"));
    const again = (await storage.loadSegments("0rec-a")).sort(byKey);
    assert.equal(again.map((s) => [s.key, s.lastAt, s.text.length]), [["i1-000001", 1_500, 5], ["i2-000001", 2_000, long.length]]);
    await other.deleteSegments("0rec-a", ["i1-000001", "nope-1"]);
    assert.equal((await storage.loadSegments("0rec-a")).map((s) => s.key), ["i2-000001"]);
    assert.equal(await storage.loadSegments("0unknown"), []);
    // Finalized recordings are untouched by segments, and the other way round.
    assert.is((await storage.list()).items.length, 0);
  });

  test("segments: hostile recording ids are refused, and touch nothing", async () => {
    for (const id of HOSTILE_IDS) {
      await rejects(() => storage.appendSegment(seg(id, "i1-000001", 1)), InvalidIdError);
    }
    assert.equal(await storage.listSegments(), []);
  });

  test("segments: appends from two handles to one recording are all kept", async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? storage : other).appendSegment(seg("0rec-c", `i${i % 2}-${String(i).padStart(6, "0")}`, i))));
    assert.is((await storage.loadSegments("0rec-c")).length, 20);
    assert.is((await other.listSegments()).length, 20);
  });

  test("segments: delete and clear remove them (erasure covers active recordings)", async () => {
    const [f] = fixtureSet();
    await storage.save(f.summary, f.bytes);
    await storage.appendSegment(seg(f.summary.id, "i1-000001", 1));
    await storage.appendSegment(seg("0rec-only-segments", "i1-000001", 1));
    assert.is(await storage.delete(f.summary.id), true);
    assert.equal(await other.loadSegments(f.summary.id), []);
    assert.is(await storage.delete("0rec-only-segments"), true, "a recording that has only segments is deleted too");
    assert.equal(await other.listSegments(), []);
    await storage.appendSegment(seg("0rec-d", "i1-000001", 1));
    await storage.clear();
    assert.equal(await other.listSegments(), []);
  });

  test("claim: of two handles racing, exactly one wins; the winner renews; release and expiry free it", async () => {
    for (let round = 0; round < 10; round++) {
      const id = `0claim-${round}`;
      const [a, b] = await Promise.all([storage.claim(id, "instance-a", 60_000), other.claim(id, "instance-b", 60_000)]);
      assert.ok(a !== b, `round ${round}: exactly one claim wins (a=${a}, b=${b})`);
      const [winner, loser, winnerName, loserName] = a ? [storage, other, "instance-a", "instance-b"] : [other, storage, "instance-b", "instance-a"];
      assert.is(await winner.claim(id, winnerName, 60_000), true, "the holder renews");
      assert.is(await loser.claim(id, loserName, 60_000), false, "still held");
      await loser.release(id, loserName); // not the holder: nothing happens
      assert.is(await loser.claim(id, loserName, 60_000), false, "a release by a non-holder frees nothing");
      await winner.release(id, winnerName);
      assert.is(await loser.claim(id, loserName, 60_000), true, "released: the other may take it");
    }
    assert.is(await storage.claim("0claim-expiry", "instance-a", 0), true);
    assert.is(await other.claim("0claim-expiry", "instance-b", 60_000), true, "an expired claim is taken over");
    assert.is(await storage.claim("0claim-expiry", "instance-a", 60_000), false);
  });

  test("sharedSecret: every handle gets the same one, made once; clear keeps it", async () => {
    if (!storage.sharedSecret || !other.sharedSecret) return; // optional: this backend has none
    const [a, b] = await Promise.all([storage.sharedSecret(), other.sharedSecret()]);
    assert.ok(typeof a === "string" && a.length >= 32, "a long random secret");
    assert.is(b, a, "two handles racing to make it agree");
    await storage.clear();
    assert.is(await other.sharedSecret(), a, "clear() keeps it: instances holding it keep their sessions");
  });

  test("a session recorded through createReplay is stored, listed and replayed", async () => {
    const journal = mkdtempSync(join(tmpdir(), "hono-replay-conformance-"));
    const replay = createReplay({ views: { Counter: FixtureView }, storage: borrowed(other), journal });
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    const counts = new Map<string, number>();
    app.get("/counter", (c) => c.var.replay.render(FixtureView, { label: "count", count: counts.get(c.req.query("who") ?? "") ?? 0 }));
    app.post("/counter", async (c) => {
      const who = c.req.query("who") ?? "";
      counts.set(who, (counts.get(who) ?? 0) + Number((await c.req.parseBody()).by ?? 1));
      return c.var.replay.render(FixtureView, { label: "count", count: counts.get(who)! });
    });
    try {
      const first = await app.request("/counter?who=ada");
      const cookie = first.headers.get("set-cookie")!.split(";")[0];
      for (const by of ["1", "2", "3"]) {
        await app.request("/counter?who=ada", { method: "POST", headers: { cookie, "x-replay-event": "bump" }, body: new URLSearchParams({ by }) });
      }
    } finally {
      await replay.close();
      rmSync(journal, { recursive: true, force: true });
    }
    const [summary] = (await storage.list({ view: "Counter" })).items;
    assert.ok(summary, "the recording is in the storage");
    assert.is(summary.eventCount, 7);
    assert.equal(summary.eventNames, ["bump"]);
    const player = replay.player(await replay.store.getRecording(summary.id));
    assert.equal([0, 1, 2, 3].map((i) => player.renderFrame(i).html), ["<p>count 0</p>", "<p>count 1</p>", "<p>count 3</p>", "<p>count 6</p>"]);
    assert.is(player.fidelity().identical, 4, "every frame byte-identical to what was served");
  });

  erasureCases({ test, storage: () => storage, other: () => other, borrowed, view: FixtureView });

  return conformance;
}
