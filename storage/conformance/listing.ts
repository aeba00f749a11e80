/**
 * Conformance cases: listing. Every filter, sort key, order and page gives
 * what the reference implementation (storage/filter.ts `pageSummaries`) gives
 * over the same summaries, with spot checks that do not lean on it; awkward
 * text (quotes, SQL wildcards, emoji) survives and filters literally.
 */

import { pageSummaries } from "../filter.ts";
import type { SortKey, SummaryFilter } from "../types.ts";
import { fixtureRecording, fixtureSet, MINUTE, T0 } from "./fixtures.ts";
import { assert, type Harness, ids, saveAll } from "./harness.ts";

export function listingCases(h: Harness): void {
  const { test } = h;
  test("every filter, alone and combined, gives what the reference filter gives", () => everyFilter(h));
  test("awkward text in views, URLs and event names survives and filters", () => awkwardText(h));
  test("every sort key and order, and paging through each, agree with the reference", () => sortAndPage(h));
}

async function everyFilter(h: Harness): Promise<void> {
  const { storage } = h;
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
}

async function awkwardText(h: Harness): Promise<void> {
  const { storage } = h;
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
}

async function sortAndPage(h: Harness): Promise<void> {
  const { storage } = h;
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
}
