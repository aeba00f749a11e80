/**
 * The session cookie on a request and its response (the format is
 * session_cookie.ts). Over https — as the request says, or a trusted proxy's
 * `x-forwarded-proto` — the cookie is `__Host-` prefixed: host-only, Secure,
 * path /. It is written at most once a request, when it changed: before the
 * response exists when it can be, else into the response's own headers.
 */

import type { Context } from "hono";
import type { RequestState } from "./request_replay.ts";
import { cookieValue, issueSid, parseSessionCookie, type SessionCookie, serializeSessionCookie, sessionCookieLine } from "./session_cookie.ts";

/** The recorder's options the cookie needs; `secret` may change once (the store's shared secret arrives). */
export interface CookieOptions {
  secret: string;
  cookieName: string;
  trustProxy?: boolean;
}

/** The session from the cookie; a missing one, or one whose sid this server did not issue, is a new session. */
export function readSession(c: Context, o: CookieOptions): RequestState {
  const cookie = sessionOf(c, o);
  return cookie ? { cookie, dirty: false } : { cookie: { sid: issueSid(o.secret), entries: [] }, dirty: true };
}

/** The request's session cookie, if it carries one this server signed. */
export function sessionOf(c: Context, o: CookieOptions): SessionCookie | undefined {
  return parseSessionCookie(cookieValue(c.req.raw.headers.get("cookie"), cookieName(c, o)), o.secret);
}

/**
 * Sets the cookie when it changed, once. A recording made by attaching (the
 * handler served its page, then the recorder recorded it) changes the cookie
 * after the response exists: the line then goes into that response's own
 * headers. Hono's `c.header` would copy the response instead, and on
 * @hono/node-server the copy turns the page string into a stream read back
 * through web streams: measured, most of what attaching cost over
 * `c.var.replay.render`. Headers that cannot change (a `fetch()` response the
 * handler passed on) are left to `c.header`, copy and all.
 */
export function writeSession(c: Context, state: RequestState, o: CookieOptions): void {
  if (!state.dirty) return;
  state.dirty = false;
  const line = sessionCookieLine(cookieName(c, o), serializeSessionCookie(state.cookie), isHttps(c, o));
  if (c.finalized && appended(c.res.headers, line)) return;
  c.header("Set-Cookie", line, { append: true });
}

/** Appends the Set-Cookie line; false when the headers are immutable. */
function appended(headers: Headers, line: string): boolean {
  try {
    headers.append("Set-Cookie", line);
    return true;
  } catch (error) {
    if (error instanceof TypeError) return false; // immutable: the caller copies the response
    throw error;
  }
}

function cookieName(c: Context, o: CookieOptions): string {
  return isHttps(c, o) ? "__Host-" + o.cookieName : o.cookieName;
}

function isHttps(c: Context, o: CookieOptions): boolean {
  if (o.trustProxy) {
    const forwarded = c.req.header("x-forwarded-proto");
    if (forwarded) return forwarded.split(",")[0].trim().toLowerCase() === "https";
  }
  // c.req.url is always absolute: its scheme is its start (no URL parse on every request).
  return c.req.url.startsWith("https:");
}
