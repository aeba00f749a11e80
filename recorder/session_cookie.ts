/**
 * The session cookie: the session id and, for each view the session is being
 * recorded on, where its recording stands. The cookie travels with every
 * request, so whichever instance serves it knows — without asking the store —
 * which recording the request belongs to, when it started (the recording id
 * carries its start time, the base of every offset) and how many requests it
 * has seen (`seq`, the order segments from several instances merge in). An
 * instance whose own last frame of a recording is not the `seq` the cookie
 * names knows another instance served the request in between, and writes a
 * full snapshot instead of a delta.
 *
 *   <sid>!<view>~<recording id>~<seq>~<last activity>~<left at>~<path hash>!…
 *
 * The sid is issued by the server and signed: 24 random characters followed
 * by 128 bits of HMAC-SHA256(secret, those 24) in hex, all `[a-z0-9]`, so the
 * whole signed sid is the session id everywhere (sampling, sessionKey). A cookie whose sid is not signed with this
 * secret (made up by a client, or copied from another app) is not this
 * server's session: it is replaced by a new one, so a client cannot choose the
 * session (and thus the sessionKey) its requests are recorded under. Instances
 * sharing a store must share the secret, or each replaces the others' sids.
 * The entries are not signed: a recording id is unguessable, and a client that
 * edits its own entries only disturbs its own recordings.
 *
 * Numbers are base 36; a view name is percent-encoded, so no separator can
 * appear in it. An entry is bounded by the registered views, so the cookie is too.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { randomToken } from "../format/mod.ts";
import { BoundedMemo } from "./bounded_memo.ts";

export interface RecordingEntry {
  view: string;
  id: string;
  /** Requests recorded so far in this recording, by every instance. */
  seq: number;
  /** Epoch ms of the last recorded request. */
  lastAt: number;
  /** Epoch ms of the pagehide beacon, if the page went away since. */
  leftAt?: number;
  /** shortHash of the recording's page path: a redirected form post finds its page by Referer. */
  path: string;
}

export interface SessionCookie {
  sid: string;
  entries: RecordingEntry[];
}

const SID = /^[a-z0-9]{24}[0-9a-f]{32}$/;
const ID = /^[a-z0-9]{1,16}-[a-z0-9]{1,32}$/;

const RANDOM_CHARS = 24;

/** A new session id: random, signed with `secret`. */
export function issueSid(secret: string): string {
  const random = randomToken(RANDOM_CHARS);
  return random + mac(random, secret);
}

/** Whether `sid` was issued with `secret` (constant time). */
function verifySid(sid: string, secret: string): boolean {
  const known = verified.get(secret);
  if (known?.has(sid)) return true;
  if (!SID.test(sid)) return false;
  const given = new TextEncoder().encode(sid.slice(RANDOM_CHARS));
  const expected = new TextEncoder().encode(mac(sid.slice(0, RANDOM_CHARS), secret));
  if (!timingSafeEqual(given, expected)) return false;
  remember(sid, secret);
  return true;
}

/**
 * Sids that passed the HMAC check, per secret: a session's sid is verified once
 * rather than on every request (an HMAC costs ~15 µs, a third of a small
 * page's whole recording cost). Only valid sids are kept, so a flood of made-up
 * ones does not grow it; it is bounded, and cleared when full (the next request
 * of each session pays one HMAC again). A hit reveals nothing: it needs the
 * valid sid itself.
 */
const verified = new BoundedMemo<BoundedMemo<true>>(8);
const VERIFIED_MAX = 16_384;

function remember(sid: string, secret: string) {
  let known = verified.get(secret);
  if (!known) verified.set(secret, (known = new BoundedMemo(VERIFIED_MAX)));
  known.set(sid, true);
}

function mac(random: string, secret: string): string {
  return createHmac("sha256", secret).update("hono-replay sid v1\n" + random).digest("hex").slice(0, 32);
}

/** The cookie, or undefined when it is missing, damaged, or its sid was not issued with `secret`. */
export function parseSessionCookie(value: string | undefined, secret: string): SessionCookie | undefined {
  if (!value) return undefined;
  // Read on every request: scanned with indexOf rather than split into arrays.
  let end = value.indexOf("!");
  if (end === -1) end = value.length;
  const sid = value.slice(0, end);
  if (!verifySid(sid, secret)) return undefined;
  const entries: RecordingEntry[] = [];
  while (end < value.length) {
    const start = end + 1;
    end = value.indexOf("!", start);
    if (end === -1) end = value.length;
    const entry = parseEntry(value.slice(start, end));
    if (entry && !hasView(entries, entry.view)) entries.push(entry);
  }
  return { sid, entries };
}

function hasView(entries: RecordingEntry[], view: string): boolean {
  for (const e of entries) if (e.view === view) return true;
  return false;
}

function parseEntry(part: string): RecordingEntry | undefined {
  const [view, id, seq, lastAt, leftAt, path] = part.split("~");
  if (path === undefined || !ID.test(id)) return undefined;
  let name = view;
  if (view.includes("%")) {
    try {
      name = decodeURIComponent(view);
    } catch {
      return undefined; // a damaged entry only costs its recording's continuity
    }
  }
  const entry: RecordingEntry = { view: name, id, seq: parseInt(seq, 36), lastAt: parseInt(lastAt, 36), path };
  if (leftAt) entry.leftAt = parseInt(leftAt, 36);
  return Number.isSafeInteger(entry.seq) && Number.isSafeInteger(entry.lastAt) ? entry : undefined;
}

export function serializeSessionCookie(cookie: SessionCookie): string {
  let out = cookie.sid;
  for (const e of cookie.entries) {
    out += "!" + encodedView(e.view) + "~" + e.id + "~" + e.seq.toString(36) + "~" + e.lastAt.toString(36) + "~" +
      (e.leftAt === undefined ? "" : e.leftAt.toString(36)) + "~" + e.path;
  }
  return out;
}

/** View names percent-encoded, remembered: a session's cookie is written on every recorded request. */
const encodedViews = new BoundedMemo<string>(256);

function encodedView(view: string): string {
  let encoded = encodedViews.get(view);
  if (encoded === undefined) {
    encoded = encodeURIComponent(view).replace(/[!~*'()]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
    // Names come from cookies too (a client may send any): bounded.
    encodedViews.set(view, encoded);
  }
  return encoded;
}

/**
 * The value of cookie `name` in a Cookie header, as Hono's `getCookie` reads
 * it (the first pair of that name; surrounding whitespace and quotes removed;
 * percent-decoded), without splitting the whole header into an object: the
 * session cookie is read on every request. recorder/session_cookie.test.ts
 * checks it against Hono's parser.
 */
export function cookieValue(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + 1)) {
    if (!startsPair(header, at)) continue;
    let i = at + name.length;
    while (isBlank(header.charCodeAt(i))) i++;
    if (header.charCodeAt(i) !== 61 /* = */) continue;
    let end = header.indexOf(";", i + 1);
    if (end === -1) end = header.length;
    let start = i + 1;
    while (start < end && isBlank(header.charCodeAt(start))) start++;
    while (end > start && isBlank(header.charCodeAt(end - 1))) end--;
    let value = header.slice(start, end);
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1); // a lone quote too, as Hono does
    if (!COOKIE_VALUE.test(value)) continue;
    return value.includes("%") ? decodeValid(value) : value;
  }
  return undefined;
}

/** Percent-escapes decoded where they are valid, left as they are where not (as Hono does). */
function decodeValid(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}

/** RFC 6265 cookie-octets (Hono's check, with the space and comma it tolerates). */
const COOKIE_VALUE = /^[ !#-:<-[\]-~]*$/;

/** Whether the name found at `at` starts a pair: at the start, or after a `;` and whitespace. */
function startsPair(header: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && isBlank(header.charCodeAt(i))) i--;
  return i < 0 || header.charCodeAt(i) === 59 /* ; */;
}

/**
 * The Set-Cookie line of the session cookie, as Hono's `setCookie(c, name,
 * value, { httpOnly, sameSite: "Lax", path: "/", secure })` writes it. The
 * value is ours (letters, digits, `-_.!~` and the `%` of an encoded view name) and the name fixed, so Hono's checks of
 * either are not run on every request; the test compares the two.
 */
export function sessionCookieLine(name: string, value: string, secure: boolean): string {
  // encodeURIComponent leaves every character of the value but `%` as it is (encodedView escapes the rest).
  return name + "=" + (value.includes("%") ? encodeURIComponent(value) : value) + (secure ? "; Path=/; HttpOnly; Secure; SameSite=Lax" : "; Path=/; HttpOnly; SameSite=Lax");
}

/** The recording's start (epoch ms), from its id (format/ids.ts newRecordingId). */
export function startOfRecording(id: string): number {
  return parseInt(id.slice(0, id.indexOf("-")), 36);
}
