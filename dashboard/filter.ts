/**
 * The index's query string: the filters, sorting and page a URL asks for, as a
 * storage filter and as the values to put back into the form. Filters live in
 * the URL so a filtered list can be bookmarked and shared.
 *
 * Nonsense is dropped, never an error: a hand-edited URL shows the unfiltered
 * list rather than a failure. Every text is cut to a sane length before it
 * reaches the storage backend.
 */

import { isValidId } from "../format/mod.ts";
import type { SortKey, SummaryFilter } from "../storage/mod.ts";

const SORTS: SortKey[] = ["startedAt", "durationMs", "eventCount", "sizeBytes"];

/** The index's query string as a storage filter, and the values to put back in the form. */
export function parseFilter(get: (key: string) => string | undefined): { filter: SummaryFilter; form: Record<string, string> } {
  const filter: SummaryFilter = {};
  const form: Record<string, string> = {};
  const text = (key: string, max = 200) => {
    const v = get(key)?.trim();
    if (!v) return undefined;
    form[key] = v.slice(0, max);
    return form[key];
  };
  const q = text("q");
  if (q) filter.text = q;
  const view = text("view");
  if (view) filter.view = view;
  const url = text("url");
  if (url) filter.urlContains = url;
  const event = text("event");
  if (event) filter.eventName = event;
  for (const key of ["from", "to"] as const) {
    const v = text(key, 40);
    if (!v) continue;
    const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : v + "Z");
    if (Number.isFinite(ms)) filter[key] = ms;
    else delete form[key];
  }
  const minDuration = Number(text("minDuration", 20));
  if (form.minDuration !== undefined) {
    if (Number.isFinite(minDuration) && minDuration >= 0) filter.minDurationMs = minDuration * 1000;
    else delete form.minDuration;
  }
  const minEvents = Number(text("minEvents", 20));
  if (form.minEvents !== undefined) {
    if (Number.isInteger(minEvents) && minEvents >= 0) filter.minEvents = minEvents;
    else delete form.minEvents;
  }
  const sort = text("sort", 20);
  if (sort && (SORTS as string[]).includes(sort)) filter.sort = sort as SortKey;
  else delete form.sort;
  const order = text("order", 4);
  if (order === "asc" || order === "desc") filter.order = order;
  else delete form.order;
  const cursor = text("cursor", 300);
  if (cursor) filter.cursor = cursor;
  return { filter, form };
}

/** The most recording ids one request may ask about (fidelity, cached frames). */
const MAX_IDS = 50;

/** An `ids` query parameter ("a,b,c"): at most MAX_IDS valid ids, or what is wrong with it. */
export function idsOf(query: string | undefined): string[] | string {
  const ids = (query ?? "").split(",").filter(Boolean);
  if (ids.length > MAX_IDS) return `at most ${MAX_IDS} ids`;
  if (!ids.every(isValidId)) return "invalid recording id";
  return ids;
}
