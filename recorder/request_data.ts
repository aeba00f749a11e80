/**
 * What the recorder reads from a request: its query, route and body params,
 * the event's name, the page's path hash, and whether its session is sampled.
 * Pure functions of the request: no recorder state.
 */

import type { Context } from "hono";
import { type Params, shortHash, truncateEventName } from "../format/mod.ts";
import type { RecorderOptions } from "./index.ts";
import { BoundedMemo } from "./bounded_memo.ts";
import { redactEventName, redactParamValue } from "./secrets.ts";

/** shortHash of the URL's path; every recorded request needs it for the same few URLs, so they are remembered. */
export function pathHash(url: string): string {
  let hash = pathHashes.get(url);
  if (hash === undefined) {
    hash = shortHash(safePath(url) ?? url);
    pathHashes.set(url, hash);
  }
  return hash;
}
const pathHashes = new BoundedMemo<string>(1_024, 512);

export function isAction(method: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

/** Query and route params, values that look like tokens (a `/reset/:id` token) already replaced. */
export function routeParams(c: Context): Params {
  const out: Params = {};
  for (const [name, value] of Object.entries({ ...c.req.query(), ...c.req.param() })) {
    out[name] = typeof value === "string" ? redactParamValue(name, value) : value;
  }
  return out;
}

/** The parsed body (form or JSON). Hono caches it, so the handler can have read it first. */
export async function bodyParams(c: Context): Promise<Params> {
  const type = c.req.header("content-type") ?? "";
  try {
    if (type.includes("application/json")) {
      const body = await c.req.json();
      return body !== null && typeof body === "object" && !Array.isArray(body) ? body : { body };
    }
    if (type.includes("form")) return (await c.req.parseBody({ all: true })) as Params;
    return {};
  } catch {
    // A body the handler consumed raw, or malformed: the event is still recorded, without params.
    return {};
  }
}

/** The event's name, cut to MAX_EVENT_NAME_CHARS: it comes from the client (a header or a form field). */
export function eventName(c: Context, params: Params, o: RecorderOptions): string {
  const fromHeader = c.req.header(o.eventHeader);
  if (fromHeader) return truncateEventName(redactEventName(fromHeader));
  const fromField = params[o.eventField];
  if (typeof fromField === "string" && fromField) return truncateEventName(redactEventName(fromField));
  return truncateEventName(`${c.req.method} ${c.req.routePath}`);
}

export function safePath(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

/** Deterministic sampling: a session is in or out for its whole life. */
export function sampled(sid: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return parseInt(shortHash(sid), 36) / 2 ** 32 < rate;
}
