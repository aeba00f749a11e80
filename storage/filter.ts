/** Filtering, sorting and cursor paging over summaries, for backends that hold them in memory; the checks of erasure marks every backend shares. */

import { assertValidId, type RecordingSummary } from "../format/mod.ts";
import type { CleanupPolicy, Erasure, SortKey, SummaryFilter, SummaryPage } from "./types.ts";

export function matchesFilter(s: RecordingSummary, f: SummaryFilter): boolean {
  if (f.view !== undefined && s.view !== f.view) return false;
  if (f.sessionKey !== undefined && s.sessionKey !== f.sessionKey) return false;
  if (f.urlContains && !s.url.includes(f.urlContains)) return false;
  if (f.from !== undefined && s.startedAt < f.from) return false;
  if (f.to !== undefined && s.startedAt >= f.to) return false;
  if (f.minDurationMs !== undefined && s.durationMs < f.minDurationMs) return false;
  if (f.minEvents !== undefined && s.eventCount < f.minEvents) return false;
  if (f.eventName !== undefined && !s.eventNames.includes(f.eventName)) return false;
  if (f.text) {
    const needle = f.text.toLowerCase();
    const hay = [s.view, s.url, ...s.eventNames].join("\n").toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  return true;
}

export function pageSummaries(all: Iterable<RecordingSummary>, f: SummaryFilter = {}): SummaryPage {
  const key: SortKey = f.sort ?? "startedAt";
  const desc = (f.order ?? "desc") === "desc";
  const after = f.cursor ? parseCursor(f.cursor) : undefined;
  const compare = (a: RecordingSummary, b: RecordingSummary) => {
    const d = a[key] - b[key] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return desc ? -d : d;
  };
  let items = [...all].filter((s) => matchesFilter(s, f)).sort(compare);
  if (after) {
    const pivot = { [key]: after.value, id: after.id } as unknown as RecordingSummary;
    items = items.filter((s) => compare(s, pivot) > 0);
  }
  if (f.limit === undefined || items.length <= f.limit) return { items };
  const page = items.slice(0, f.limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: makeCursor(last[key], last.id) };
}

export function makeCursor(value: number, id: string): string {
  return `${value}.${id}`;
}

export function parseCursor(cursor: string): { value: number; id: string } | undefined {
  const dot = cursor.indexOf(".");
  const value = Number(cursor.slice(0, dot));
  if (dot <= 0 || !Number.isFinite(value)) return undefined;
  return { value, id: cursor.slice(dot + 1) };
}

/** The ids a cleanup policy removes: too old first, then the oldest beyond the count. */
export function idsToClean(all: RecordingSummary[], policy: CleanupPolicy): string[] {
  const now = policy.now ?? Date.now();
  const byAge = [...all].sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : -1));
  const doomed: string[] = [];
  byAge.forEach((s, i) => {
    if (now - s.startedAt > policy.maxAgeMs || i >= policy.maxRecordings) doomed.push(s.id);
  });
  return doomed;
}

/** Throws for an erasure no backend should store: an id that could escape a key space, times that are not epoch ms. */
export function checkErasure(erasure: Erasure): Erasure {
  assertValidId(erasure?.id);
  if (!Number.isFinite(erasure.at) || !Number.isFinite(erasure.until)) {
    throw new TypeError(`erasure ${erasure.id}: at and until must be epoch milliseconds, got ${erasure.at} and ${erasure.until}`);
  }
  return erasure;
}

/** The marks of `all` whose `until` has not passed. */
export function unexpired(all: Iterable<Erasure>, now = Date.now()): Erasure[] {
  return [...all].filter((e) => e.until > now);
}

/** A stored mark back, or undefined when `text` is not one. */
export function parseErasure(text: string): Erasure | undefined {
  try {
    return checkErasure(JSON.parse(text) as Erasure);
  } catch {
    return undefined;
  }
}
