/**
 * The island endpoint: a small Hono middleware that takes the batches
 * islands/client.ts posts and appends them to the page's recording as `island`
 * frames (format/events.ts), through the same ring as every other frame.
 *
 * Invariants, and why:
 * - Only the sender's own session and active recording: the session cookie
 *   (httpOnly, SameSite=Lax, so a cross-site post carries none) must name a
 *   recording that is neither idle nor past its pagehide grace (the posted
 *   page path picks among several); a cross-origin `Origin` or `Sec-Fetch-Site` is refused
 *   outright. The cookie also gives the recording's id, start (the time base)
 *   and request counter, so any instance can append without asking the store —
 *   it is read, never written: island posts do not count as requests, and
 *   island frames do not count as activity (worker/drain.ts), so a recording
 *   still ends after idleTimeoutMs without a request. The cookie is not signed
 *   (as for the recorder): a client can forge its own, never guess another
 *   session's recording ids; frames for an id that never mounted never
 *   assemble into a recording.
 * - Placement: the browser sends its own clock (`n`, and each entry's `t`); a
 *   change is placed at now − (n − t), the age clamped to [0, MAX_AGE_MS],
 *   as an offset from the recording start, never before it. Frames carry the
 *   cookie's request counter, so segments merge them by (seq, t) between the
 *   requests they happened between (a batch is at most BATCH_MS late).
 * - Sanitized like params (the app's sanitizer), encoded in the recording's
 *   format, each state capped at `maxStateChars`.
 * - Bounded: a body over `maxBodyBytes` is refused before it is read in full
 *   (413), a post over `maxEntries` (413), a recording over its rate (429) or
 *   over `maxEventsPerRecording` island events on this instance (429).
 * - An instance announces a (resumed) start frame the first time it appends to
 *   a recording, so its persistence worker keeps the frames even when another
 *   instance served the page; once per recording per instance, because a start
 *   frame also revives a recording the worker was ending.
 */

import type { Context, MiddlewareHandler } from "hono";
import { encode, type Format, frame, FrameKind, type Params, shortHash, type StartMeta } from "../format/mod.ts";
import { redactUrl } from "../recorder/index.ts";
import { sampled } from "../recorder/request_data.ts";
import type { Sanitizer } from "../recorder/sanitize.ts";
import { type RecordingEntry, type SessionCookie, startOfRecording } from "../recorder/session_cookie.ts";
import type { EventLog } from "../worker/mod.ts";
import { ISLAND_NAME, ISLAND_PATH } from "./client.ts";

export interface IslandRecorderOptions {
  /** Where islands post (give the same `path` to `hydrateIslands`). Default "/__replay/island". */
  path?: string;
  /** Default 16 KiB. */
  maxBodyBytes?: number;
  /** Entries per post. Default 64. */
  maxEntries?: number;
  /** One island state, encoded, longer than this is stored as a note. Default 4,096. */
  maxStateChars?: number;
  /** Posts per recording: a burst of `rateBurst`, refilled at `ratePerSecond`. Defaults 10 and 4. */
  rateBurst?: number;
  ratePerSecond?: number;
  /** Island events per recording accepted by this instance. Default 5,000. */
  maxEventsPerRecording?: number;
}

/** What the island endpoint needs from createReplay (mod.ts). */
export interface IslandRecorderDeps {
  log: EventLog;
  format: Format;
  sanitizer: Sanitizer;
  /** The request's verified session cookie (the recorder's: it knows the name and the signing secret). */
  session(c: Context): SessionCookie | undefined;
  sampleRate: number;
  idleTimeoutMs: number;
  beaconGraceMs: number;
  fidelity: boolean;
}

/** How far back a change may be placed: older ages are clamped (a tab that slept). */
const MAX_AGE_MS = 60_000;
const MAX_TRACKED = 10_000;
/** A recording id whose start is older than this (or in the future) is not one the recorder made. */
const MAX_RECORDING_AGE_MS = 7 * 24 * 3_600_000;
const HASH = /^[0-9a-z]{1,8}$/;

interface Tracked {
  tokens: number;
  at: number;
  events: number;
  /** This instance appended the recording's start frame. */
  announced?: boolean;
}

export interface IslandRecorderStats {
  accepted: number;
  refused: Record<"origin" | "session" | "recording" | "size" | "rate" | "malformed", number>;
}

export function islandRecorder(deps: IslandRecorderDeps, options: IslandRecorderOptions = {}): MiddlewareHandler & { stats: IslandRecorderStats } {
  const path = options.path ?? ISLAND_PATH;
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
  const maxEntries = options.maxEntries ?? 64;
  const maxStateChars = options.maxStateChars ?? 4096;
  const burst = options.rateBurst ?? 10;
  const perSecond = options.ratePerSecond ?? 4;
  const maxEvents = options.maxEventsPerRecording ?? 5_000;
  const tracked = new Map<string, Tracked>();
  const stats: IslandRecorderStats = { accepted: 0, refused: { origin: 0, session: 0, recording: 0, size: 0, rate: 0, malformed: 0 } };

  const refuse = (c: Context, why: keyof IslandRecorderStats["refused"], status: 400 | 403 | 413 | 429, message: string) => {
    stats.refused[why]++;
    return c.text(`hono-replay islands: ${message}`, status);
  };

  const handler: MiddlewareHandler = async (c, next) => {
    if (c.req.path !== path || c.req.method !== "POST") return next();
    if (!sameOrigin(c)) return refuse(c, "origin", 403, "cross-origin island posts are refused; post from the page itself");
    const length = Number(c.req.header("content-length") ?? NaN);
    if (length > maxBodyBytes) return refuse(c, "size", 413, `body over ${maxBodyBytes} bytes; record less state per island`);
    const cookie = deps.session(c);
    if (!cookie) return refuse(c, "session", 403, "no recorder session; islands post only from pages the recorder served in this session");
    if (!sampled(cookie.sid, deps.sampleRate)) return c.body(null, 204);
    const text = await readCapped(c, maxBodyBytes);
    if (text === undefined) return refuse(c, "size", 413, `body over ${maxBodyBytes} bytes; record less state per island`);
    const batch = parseBatch(text);
    if (!batch) return refuse(c, "malformed", 400, 'expected {"p": path, "n": clock, "e": [[island, t, state, hash, load?], …]} as sent by hydrateIslands');
    if (batch.e.length > maxEntries) return refuse(c, "size", 413, `over ${maxEntries} entries in one post`);
    const now = Date.now();
    const entry = activeEntry(cookie.entries, shortHash(batch.p), now, deps);
    if (!entry) return refuse(c, "recording", 403, "no active recording of this page in this session");
    const track = admit(tracked, entry.id, now, burst, perSecond, deps.idleTimeoutMs);
    if (!track) return refuse(c, "rate", 429, `over ${perSecond} posts a second for this recording; batch changes (hydrateIslands does)`);
    if (track.events + batch.e.length > maxEvents) return refuse(c, "rate", 429, `over ${maxEvents} island events for this recording`);
    track.events += batch.e.length;

    const startedAt = startOfRecording(entry.id);
    if (!(startedAt <= now + MAX_AGE_MS && now - startedAt < MAX_RECORDING_AGE_MS)) {
      return refuse(c, "recording", 403, "the session cookie names no plausible recording");
    }
    if (!track.announced) {
      const meta: StartMeta = {
        view: entry.view,
        url: redactUrl(new URL(batch.p, c.req.url).href),
        sessionKey: shortHash(cookie.sid),
        startedAt,
        format: deps.format,
        resumed: true,
      };
      deps.log.append(entry.id, frame(entry.id, FrameKind.start, 0, "", JSON.stringify(meta), entry.seq));
      track.announced = true;
    }
    for (const [name, t, state, hash, load] of batch.e) {
      const age = Math.min(MAX_AGE_MS, Math.max(0, batch.n - t));
      const offset = Math.max(0, Math.round(now - age - startedAt));
      let encoded = encode(deps.sanitizer.sanitizeParams(state as Params), deps.format);
      if (encoded.length > maxStateChars) encoded = JSON.stringify({ omitted: `[Omitted: ${encoded.length} characters, over maxStateChars]` });
      const body = "[" + JSON.stringify(name) + "," + encoded + (deps.fidelity && hash ? "," + JSON.stringify(hash) : "") + "]";
      deps.log.append(entry.id, frame(entry.id, load ? FrameKind.islandLoad : FrameKind.island, offset, "", body, entry.seq));
    }
    stats.accepted++;
    return c.body(null, 204);
  };
  return Object.assign(handler, { stats });
}

/** Token bucket per recording: `cap` posts at once, `rate` a second after; undefined when over. */
function admit(map: Map<string, Tracked>, id: string, now: number, cap: number, rate: number, idleTimeoutMs: number) {
  let t = map.get(id);
  if (!t) {
    if (map.size >= MAX_TRACKED) prune(map, now, idleTimeoutMs);
    map.set(id, (t = { tokens: cap, at: now, events: 0 }));
  }
  t.tokens = Math.min(cap, t.tokens + ((now - t.at) / 1000) * rate);
  t.at = now;
  if (t.tokens < 1) return undefined;
  t.tokens--;
  return t;
}

function prune(map: Map<string, Tracked>, now: number, idleTimeoutMs: number) {
  for (const [id, t] of map) if (now - t.at > idleTimeoutMs) map.delete(id);
  // Still full: forget the oldest half (they lose their rate history, nothing else).
  if (map.size >= MAX_TRACKED) [...map.keys()].slice(0, MAX_TRACKED / 2).forEach((id) => map.delete(id));
}

/**
 * The cookie's recording the page at this path hash belongs to, among those
 * still going: the one whose last request was to this path, else the latest
 * (the cookie keeps a recording's last request path, and a page that posts to
 * /signup/validate is still /signup). Two tabs of one session on different
 * views share the cookie: a post may then land on the more recent one.
 */
function activeEntry(entries: RecordingEntry[], path: string, now: number, deps: IslandRecorderDeps): RecordingEntry | undefined {
  let best: RecordingEntry | undefined;
  for (const e of entries) {
    if (now - e.lastAt > deps.idleTimeoutMs) continue;
    if (e.leftAt !== undefined && now >= e.leftAt + deps.beaconGraceMs) continue;
    const rank = (x: RecordingEntry) => (x.path === path ? 1 : 0);
    if (!best || rank(e) > rank(best) || (rank(e) === rank(best) && e.lastAt > best.lastAt)) best = e;
  }
  return best;
}

function sameOrigin(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site && site !== "same-origin") return false;
  const origin = c.req.header("origin");
  return !origin || origin === new URL(c.req.url).origin;
}

/** The body as text, or undefined past `max` bytes (stops reading there). */
async function readCapped(c: Context, max: number): Promise<string | undefined> {
  const body = c.req.raw.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch((error) => console.warn(`hono-replay islands: cancelling an oversized body failed: ${error}`));
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

type WireEntry = [string, number, Record<string, unknown>, string | undefined, 1 | undefined];

function parseBatch(text: string): { p: string; n: number; e: WireEntry[] } | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined; // answered as malformed (400) and counted by the caller
  }
  const b = data as { p?: unknown; n?: unknown; e?: unknown };
  if (!b || typeof b.p !== "string" || !b.p.startsWith("/") || b.p.length > 2048 || !Number.isFinite(b.n) || !Array.isArray(b.e)) return undefined;
  const out: WireEntry[] = [];
  for (const e of b.e as unknown[]) {
    if (!Array.isArray(e)) return undefined;
    const [name, t, state, hash, load] = e;
    if (typeof name !== "string" || !ISLAND_NAME.test(name) || !Number.isFinite(t)) return undefined;
    if (!state || typeof state !== "object" || Array.isArray(state)) return undefined;
    if (hash !== undefined && hash !== null && (typeof hash !== "string" || !HASH.test(hash))) return undefined;
    out.push([name, t as number, state as Record<string, unknown>, (hash as string) || undefined, load ? 1 : undefined]);
  }
  return { p: b.p, n: b.n as number, e: out };
}
