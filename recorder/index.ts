/**
 * The Hono middleware. It gives each browser a session cookie and records, for
 * each request, one transition of one registered view: a mount the first time
 * the view is seen in the session, then params (GET) or an event (any other
 * method) followed by a render. Recording never fails or slows a request beyond
 * framing text into the ring: every error inside it is caught, counted and
 * reported once.
 *
 * Two ways in, one code path (`recordRender`):
 * - **Explicit**: `c.var.replay.render(View, props)` renders, records, then
 *   builds the response (so the cookie is set before the response exists).
 * - **Attached** (attach.ts): nothing in the handler changes. During the request
 *   the registered views it renders are observed (Preact through
 *   `options.diffed`, hono/jsx through the elements given to `c.html`/`c.render`)
 *   and the body it serves through `c.html`/`c.body` is kept; after `next()` the
 *   outermost view is recorded with the hash of *its own markup*, checked to be
 *   a verbatim slice of the served body (a jsxRenderer layout or a handler-built
 *   shell around it is served, not recorded; see `attachedFrame`). The cookie is
 *   then set on the finished response, which Hono copies (headers only; the body
 *   stream is passed along). A request that used the explicit path is not
 *   recorded a second time.
 *
 * Any number of instances may serve one session: the cookie names the
 * recording and its request counter (session_cookie.ts), so an instance that
 * has not seen the recording joins it with a snapshot instead of starting
 * another, and no request pays a store round trip.
 */

import type { Context, MiddlewareHandler } from "hono";
import { type Assigns, frame, FrameKind, newRecordingId, type Params, shortHash, truncateEventName } from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { backgroundTimer, type EventLog } from "../worker/mod.ts";
import { Capture, type Seen, unobserved, watchContext, watchPreact } from "./attach.ts";
import { type ReplayContext, RequestReplay, type RequestRecorder, type RequestState } from "./request_replay.ts";
import { ActiveRecording, type RecordingSettings } from "./recording.ts";
import { type PropsOf, rendererOf, renderView, type View } from "./render.ts";
import type { AllowlistFilter } from "./allowlist.ts";
import { fidelityHash } from "./fidelity.ts";
import { isExactCopy } from "./sanitize.ts";
import { redactEventName, redactParamValue, redactUrl } from "./secrets.ts";
import { cookieValue, issueSid, parseSessionCookie, type RecordingEntry, type SessionCookie, serializeSessionCookie, sessionCookieLine, startOfRecording } from "./session_cookie.ts";

export { redactUrl };

export type { PropsOf, ReplayContext, View };

export interface RecorderOptions {
  views: Record<string, View>;
  settings: RecordingSettings;
  /** Session data stored with the mount, e.g. `(c) => ({ userId: c.var.user?.id })`. */
  session?: (c: Context) => unknown;
  sampleRate: number;
  idleTimeoutMs: number;
  beaconGraceMs: number;
  cookieName: string;
  beaconPath: string;
  eventHeader: string;
  eventField: string;
  fidelity: boolean;
  /** Key of the fidelity hash (recorder/fidelity.ts): configured, or this process's own. */
  fidelityKey: string;
  /** Whether `fidelityKey` was configured (shared by every process) rather than this process's own. */
  fidelityKeyConfigured: boolean;
  /** Signs session ids (session_cookie.ts). */
  secret: string;
  /** Trust `x-forwarded-proto` for whether the request came over https. */
  trustProxy: boolean;
  /** Allowlist mode (allowlist.ts). */
  allowlist?: AllowlistFilter;
  /**
   * Sessions with a recording held in memory, at most. Past it, new sessions
   * are not recorded (counted in `capped`): a flood of cookieless visitors
   * must not grow the process without bound.
   */
  maxActiveRecordings?: number;
  /** Where the warning of a failed recording goes. Default `consoleLogger`. */
  logger?: Logger;
}

/** What handlers get as `c.var.replay`. */

/** Kept for compatibility: `c.var.replay` is typed in every handler through `ContextVariableMap` below. */
export type ReplayEnv = { Variables: { replay: ReplayContext } };

declare module "hono" {
  interface ContextVariableMap {
    /** Set by `replay.recorder()`: render and record a view, info, end. */
    replay: ReplayContext;
  }
}

interface Session {
  recordings: Map<string, ActiveRecording>;
  latest?: ActiveRecording;
}

export class Recorder implements RequestRecorder {
  /** This instance's recordings, by session and view. The cookie says what other instances did. */
  private readonly sessions = new Map<string, Session>();
  private readonly viewNames = new Map<View, string>();
  private stopSweep?: () => void;
  private warned = false;
  /** Whether any registered view renders with hono/jsx: only then are `c.render` and the elements given to `c.html` looked at. */
  private readonly honoViews: boolean;
  errors = 0;
  /**
   * Requests that rendered a registered view without serving it as a string
   * through `c.html`/`c.body` (streamed, or a Response built by hand), or whose
   * view could not be told apart from a concurrent request's: not recorded.
   */
  unserved = 0;
  /** The clock every offset, idle time and beacon grace is measured with: tests move it instead of sleeping (internal.ts). */
  now: () => number = () => Date.now(); // read at each call: a test (or a virtual clock) may replace Date.now
  /** Recordings not started (one per request of a session past the cap) because `maxActiveRecordings` sessions were held already. */
  capped = 0;

  constructor(private readonly log: EventLog, private readonly options: RecorderOptions) {
    for (const [name, view] of Object.entries(options.views)) this.viewNames.set(view, name);
    const views = [...this.viewNames.keys()];
    this.honoViews = views.some((v) => rendererOf(v) === "hono/jsx");
    watchPreact(views.filter((v) => rendererOf(v) === "preact"));
  }

  private secretPending?: Promise<void>;

  /** Signs session ids with `secret` once it is known (the store's shared one); until then requests wait. */
  useSecretFrom(secret: Promise<string | undefined>): Promise<void> {
    this.secretPending = secret.then((value) => {
      if (value) this.options.secret = value;
      this.secretPending = undefined;
    });
    return this.secretPending;
  }

  middleware(): MiddlewareHandler<ReplayEnv> {
    this.startSweep();
    const o = this.options;
    return async (c, next) => {
      // Only the first requests after start wait, for the secret that signs session ids.
      if (this.secretPending) await this.secretPending;
      const state = this.readCookie(c);
      const sid = state.cookie.sid;
      const recorded = sampled(sid, o.sampleRate);
      if (c.req.method === "POST" && c.req.path === o.beaconPath) {
        if (recorded) this.leaving(state, this.now());
        this.writeCookie(c, state);
        return c.body(null, 204);
      }
      // Sampled-out sessions are not observed at all: they pay nothing for attaching.
      const capture = recorded ? new Capture(this.viewNames) : undefined;
      const ctx = new RequestReplay(this, c, state, capture, recorded);
      c.set("replay", ctx);
      if (capture) {
        this.touch(state, this.now());
        watchContext(c, capture, this.honoViews);
        try {
          await next();
        } finally {
          capture.close();
        }
        if (!ctx.rendered && !state.ended && capture.seen.length > 0) ctx.rendered = await this.recordAttached(c, state, capture);
      } else {
        await next();
      }
      // A form post that redirects (post/redirect/get) renders nothing itself: it
      // is still the user's event, on the page the form was on.
      if (recorded && !ctx.rendered && !state.ended && isAction(c.req.method)) {
        await this.guard(() => this.recordUnrenderedEvent(c, state));
      }
      this.writeCookie(c, state);
    };
  }

  /** Lets go of every recording of this instance (server shutdown); each is finalized unless another instance carries it on. */
  endAll(): void {
    for (const [sid, session] of [...this.sessions]) {
      for (const rec of session.recordings.values()) rec.leave(rec.lastActivity);
      this.sessions.delete(sid);
    }
    this.stopSweep?.();
  }

  viewName(view: View): string {
    const name = this.viewNames.get(view);
    if (name === undefined) {
      throw new TypeError(
        `hono-replay: view ${view.displayName ?? view.name ?? "?"} is not registered; add it to createReplay({ views })`,
      );
    }
    return name;
  }

  /**
   * Records what a handler rendered without `c.var.replay.render`; true when a
   * frame was recorded. Served responses that are not HTML, or whose body was
   * not a string handed to Hono, are skipped.
   */
  private async recordAttached(c: Context, state: RequestState, capture: Capture): Promise<boolean> {
    const body = await capture.body;
    if (!/^text\/html\b/i.test(c.res.headers.get("content-type") ?? "")) return false;
    if (body === undefined) {
      this.unserved++;
      return false;
    }
    let recorded = false;
    await this.guard(async () => {
      const frame = this.attachedFrame(capture.seen, body);
      if (!frame) return void this.unserved++;
      await this.recordRender(c, state, frame.seen.name, frame.seen.props, frame.html);
      recorded = true;
    });
    return recorded;
  }

  /**
   * Which seen view is the frame, and the HTML whose hash proves it.
   *
   * The frame is the outermost registered view: for Preact the last one to
   * finish rendering (an enclosing view finishes after the views inside it),
   * for hono/jsx the one nearest the root of the element tree. Its markup is
   * rendered again, alone, by `renderView` — exactly what the player renders —
   * and must appear verbatim in the served body: then that markup is what is
   * hashed and replayed, and whatever the body has around it (a `jsxRenderer`
   * layout, a doctype, a shell the handler concatenated) was served but is not
   * part of the frame. When it does not appear (the view read a context its
   * layout provided, its props changed after rendering) the next view out is
   * tried, up to `CANDIDATES`; failing all, the last one is recorded with the
   * hash of the whole body, so fidelity reports that frame as differing rather
   * than proving something that was not served. When another recorded request
   * was in flight, the seen views may include its own (attach.ts): then a view
   * is taken only when its markup is in the body, fidelity on or off, and
   * failing all nothing is recorded (undefined) rather than another request's
   * view.
   */
  private attachedFrame(seen: readonly Seen[], body: string): { seen: Seen; html: string } | undefined {
    const last = seen[seen.length - 1];
    // Views another request may have rendered (attach.ts) are told apart by the served markup, fidelity or not.
    const shared = seen.some((s) => s.shared);
    if (!this.options.fidelity && !shared) return { seen: last, html: body };
    const tries = shared ? SHARED_CANDIDATES : CANDIDATES;
    for (let i = seen.length - 1; i >= Math.max(0, seen.length - tries); i--) {
      let html: string;
      try {
        html = unobserved(renderView, seen[i].view, seen[i].props);
      } catch (error) {
        // Rendered in the request, so it can render: only alone (a hono/jsx
        // useRequestContext, say) it cannot. Reported once, counted; the next view out is tried.
        this.failed(error);
        continue;
      }
      if (body.includes(html)) return { seen: seen[i], html };
    }
    return shared ? undefined : { seen: last, html: body };
  }

  private async recordRender(c: Context, state: RequestState, name: string, props: Record<string, unknown>, html: string) {
    const { sanitizer } = this.options.settings;
    const now = this.now();
    const allow = this.options.allowlist;
    const url = redactUrl(c.req.url, allow?.paramAllowed(name));
    const allowed = allow ? allow.assigns(name, props) : props;
    const assigns = sanitizer.sanitizeAssigns(allowed as Assigns);
    // Exact: nothing the page was rendered from is missing from what is stored.
    const exact = allowed === props && isExactCopy(assigns);
    const hash = this.options.fidelity ? fidelityHash(html, this.options.fidelityKey, this.options.fidelityKeyConfigured, exact) : undefined;
    const found = this.recordingFor(state, name, url, now);
    if (!found && this.full(state.cookie.sid)) return;
    if (!found) {
      const rec = new ActiveRecording(newRecordingId(now), name, url, now, this.log, this.options.settings);
      rec.seq = 1;
      this.session(state.cookie.sid).recordings.set(name, rec);
      const sessionData = sanitizer.sanitizeParams(this.sessionData(c));
      const keepBase = this.sessions.size <= BASE_KEPT_UP_TO;
      rec.start({ view: name, url, sessionKey: shortHash(state.cookie.sid) }, sanitizer.sanitizeParams(this.allowParams(name, routeParams(c))), sessionData, assigns, hash, keepBase);
      this.recorded(state, rec, pathHash(url), now);
      return;
    }
    const rec = this.nextRequest(found);
    if (isAction(c.req.method)) {
      const body = await bodyParams(c);
      rec.event(eventName(c, body, this.options), sanitizer.sanitizeParams(this.allowParams(name, body)), now);
    } else {
      rec.params(url, sanitizer.sanitizeParams(this.allowParams(name, routeParams(c))), now);
    }
    rec.render(assigns, this.now(), hash);
    this.recorded(state, rec, pathHash(url), now);
  }

  /**
   * The recording a request of this session continues: the cookie's entry for
   * the view (it may have been started or carried on by another instance), else
   * this instance's own (a client that keeps only the first cookie it got).
   * Entries that went idle or whose page left are over: a new recording starts.
   */
  private recordingFor(state: RequestState, view: string, url: string, now: number): Continued | undefined {
    const local = this.sessions.get(state.cookie.sid)?.recordings.get(view);
    const entry = state.cookie.entries.find((e) => e.view === view);
    if (entry && !this.over(entry, local, now)) {
      if (local && local.id !== entry.id) this.letGo(state.cookie.sid, view, local);
      return { entry, local: local?.id === entry.id ? local : undefined, view, url, sid: state.cookie.sid };
    }
    if (entry) this.dropEntry(state, view);
    if (local && !this.localOver(local, now)) return { local, view, url, sid: state.cookie.sid };
    if (local) this.letGo(state.cookie.sid, view, local);
    return undefined;
  }

  private over(entry: RecordingEntry, local: ActiveRecording | undefined, now: number): boolean {
    const lastAt = Math.max(entry.lastAt, local?.id === entry.id ? local.lastActivity : 0);
    if (now - lastAt > this.options.idleTimeoutMs) return true;
    return entry.leftAt !== undefined && now >= entry.leftAt + this.options.beaconGraceMs;
  }

  private localOver(rec: ActiveRecording, now: number): boolean {
    return now - rec.lastActivity > this.options.idleTimeoutMs || (rec.leftAt !== undefined && now >= rec.leftAt + this.options.beaconGraceMs);
  }

  /** True (and counted) when a session new to this instance would pass `maxActiveRecordings`. */
  private full(sid: string): boolean {
    if (this.sessions.has(sid) || this.sessions.size < (this.options.maxActiveRecordings ?? 10_000)) return false;
    this.capped++;
    return true;
  }

  /** The recording, on this instance, ready for the next request's frames. */
  private nextRequest(found: Continued): ActiveRecording {
    let rec = found.local;
    const entry = found.entry!;
    if (!rec) {
      rec = new ActiveRecording(entry.id, found.view, found.url, startOfRecording(entry.id), this.log, this.options.settings);
      rec.seq = entry.seq;
      rec.resume({ view: found.view, url: found.url, sessionKey: shortHash(found.sid) });
      this.session(found.sid).recordings.set(found.view, rec);
    }
    const seen = entry?.seq ?? rec.seq;
    // The cookie names a request this instance did not record: another instance
    // did, and the assigns may have changed there. (A client that keeps an old
    // cookie names an earlier one; this instance's own frames are then the latest.)
    if (rec.seq < seen) rec.forgetBase();
    rec.seq = Math.max(rec.seq, seen) + 1;
    return rec;
  }

  /** Notes a recorded request in the recording, the session and the cookie; `path` is the page's path hash. */
  private recorded(state: RequestState, rec: ActiveRecording, path: string, now: number) {
    rec.lastActivity = now;
    rec.leftAt = undefined;
    const session = this.session(state.cookie.sid);
    session.latest = rec;
    const entry: RecordingEntry = { view: rec.view, id: rec.id, seq: rec.seq, lastAt: now, path };
    const i = state.cookie.entries.findIndex((e) => e.view === rec.view);
    if (i < 0) state.cookie.entries.push(entry);
    else state.cookie.entries[i] = entry;
    state.dirty = true;
  }

  private allowParams(view: string, params: Params): Params {
    return this.options.allowlist ? this.options.allowlist.params(view, params) : params;
  }

  /** The `session` option's data; a throwing callback costs the session data, not the recording. */
  private sessionData(c: Context): Params {
    if (!this.options.session) return {};
    try {
      return (this.options.session(c) ?? {}) as Params;
    } catch (error) {
      return { sessionError: `session() threw: ${(error as Error)?.message ?? error}` };
    }
  }

  private async recordUnrenderedEvent(c: Context, state: RequestState) {
    // The page the form was on, by its Referer. Only without one (a no-referrer policy)
    // is the latest view assumed: a post from any other page (an admin tool, the
    // dashboard) is not an event of the views being recorded.
    const referer = c.req.header("referer");
    // Redacted as the recordings' own URLs are (a token in the path), so the paths compare.
    const path = referer ? safePath(redactUrl(referer)) : undefined;
    if (referer !== undefined && path === undefined) return;
    const now = this.now();
    const candidates = this.candidates(state, now);
    const wanted = path === undefined ? undefined : shortHash(path);
    const pick = wanted === undefined
      ? candidates.sort((a, b) => b.lastAt - a.lastAt)[0]
      : candidates.find((x) => x.path === wanted);
    if (!pick) return;
    // Joining here, the recording's page is the one the form was on.
    const found = this.recordingFor(state, pick.view, pick.url || redactUrl(referer ?? c.req.url), now);
    if (!found) return;
    const rec = found.entry ? this.nextRequest(found) : found.local!;
    if (!found.entry) rec.seq++;
    const params = await bodyParams(c);
    rec.event(eventName(c, params, this.options), this.options.settings.sanitizer.sanitizeParams(this.allowParams(pick.view, params)), now);
    this.recorded(state, rec, pick.path, now);
  }

  /** The session's live recordings, from the cookie and, for views it does not name, this instance. */
  private candidates(state: RequestState, now: number): { view: string; path: string; lastAt: number; url: string }[] {
    const out = state.cookie.entries
      .filter((e) => !this.over(e, undefined, now))
      .map((e) => ({ view: e.view, path: e.path, lastAt: e.lastAt, url: "" }));
    for (const rec of this.sessions.get(state.cookie.sid)?.recordings.values() ?? []) {
      const known = out.find((x) => x.view === rec.view);
      if (known) known.url = rec.url;
      else if (!this.localOver(rec, now)) out.push({ view: rec.view, path: pathHash(rec.url), lastAt: rec.lastActivity, url: rec.url });
    }
    return out;
  }

  /** The recording an info (server push) belongs to: the view's, or the session's latest. */
  private target(state: RequestState, view?: View): ActiveRecording | undefined {
    const name = view === undefined ? this.latestView(state) : this.viewNames.get(view);
    if (name === undefined) return undefined;
    const found = this.recordingFor(state, name, "", this.now());
    if (!found) return undefined;
    if (found.local) return found.local;
    // Joins the recording without counting a request: a push is not one.
    const rec = this.nextRequest(found);
    rec.seq--;
    return rec;
  }

  private latestView(state: RequestState): string | undefined {
    const latest = this.sessions.get(state.cookie.sid)?.latest;
    if (latest) return latest.view;
    return [...state.cookie.entries].sort((a, b) => b.lastAt - a.lastAt)[0]?.view;
  }

  /** `c.var.replay.end()`: ends the view's recording (or every one of the session) for good, on whichever instance it lives. */
  private endRecordingsOf(state: RequestState, view?: View) {
    const name = view === undefined ? undefined : this.viewNames.get(view);
    if (view !== undefined && name === undefined) return;
    const sid = state.cookie.sid;
    const session = this.sessions.get(sid);
    state.ended = true;
    for (const entry of [...state.cookie.entries]) {
      if (name !== undefined && entry.view !== name) continue;
      if (session?.recordings.get(entry.view)?.id !== entry.id) this.log.append(entry.id, frame(entry.id, FrameKind.end, 0, "", "0", entry.seq));
      this.dropEntry(state, entry.view);
    }
    this.endRecordings(sid, (viewName) => name === undefined || viewName === name, (rec) => rec.end());
  }

  private dropEntry(state: RequestState, view: string) {
    state.cookie.entries = state.cookie.entries.filter((e) => e.view !== view);
    state.dirty = true;
  }

  private letGo(sid: string, view: string, rec: ActiveRecording) {
    this.endRecordings(sid, (name, r) => name === view && r === rec, (r) => r.leave(r.leftAt ?? r.lastActivity));
  }

  /** Ends the session's recordings that `which` picks, and forgets the session once it has none. */
  private endRecordings(sid: string, which: (name: string, rec: ActiveRecording) => boolean, how: (rec: ActiveRecording) => void) {
    const session = this.sessions.get(sid);
    if (!session) return;
    for (const [name, rec] of session.recordings) {
      if (!which(name, rec)) continue;
      how(rec);
      session.recordings.delete(name);
      if (session.latest === rec) session.latest = undefined;
    }
    if (session.recordings.size === 0) this.sessions.delete(sid);
  }

  private session(sid: string): Session {
    let s = this.sessions.get(sid);
    if (!s) this.sessions.set(sid, (s = { recordings: new Map() }));
    return s;
  }

  /** Any request of the session keeps its recordings alive and cancels a pending beacon end. */
  private touch(state: RequestState, now: number) {
    for (const entry of state.cookie.entries) {
      if (entry.leftAt !== undefined && now < entry.leftAt + this.options.beaconGraceMs) {
        entry.leftAt = undefined;
        state.dirty = true;
      }
    }
    const s = this.sessions.get(state.cookie.sid);
    if (!s) return;
    for (const rec of s.recordings.values()) {
      if (this.localOver(rec, now)) continue;
      rec.lastActivity = now;
      rec.leftAt = undefined;
    }
  }

  /** The pagehide beacon: every recording of the session ends after the grace period, unless the session comes back. */
  private leaving(state: RequestState, now: number) {
    for (const entry of state.cookie.entries) entry.leftAt = now;
    if (state.cookie.entries.length) state.dirty = true;
    for (const rec of this.sessions.get(state.cookie.sid)?.recordings.values() ?? []) rec.leftAt = now;
  }

  private startSweep() {
    if (this.stopSweep) return;
    const every = Math.max(50, Math.min(1000, this.options.idleTimeoutMs / 4, this.options.beaconGraceMs / 4));
    this.stopSweep = backgroundTimer(() => this.sweep(this.now()), every, true);
  }

  /** Lets go of recordings that went idle here, or whose page went away and did not come back. */
  sweep(now: number) {
    for (const sid of [...this.sessions.keys()]) {
      this.endRecordings(sid, (_, rec) => this.localOver(rec, now), (rec) => rec.leave(rec.leftAt ?? rec.lastActivity));
    }
  }

  /** The session from the cookie; a missing one, or one whose sid this server did not issue, is a new session. */
  private readCookie(c: Context): RequestState {
    const cookie = this.sessionOf(c);
    return cookie ? { cookie, dirty: false } : { cookie: { sid: issueSid(this.options.secret), entries: [] }, dirty: true };
  }

  /** The request's session cookie, if it carries one this server signed. */
  sessionOf(c: Context): SessionCookie | undefined {
    return parseSessionCookie(cookieValue(c.req.raw.headers.get("cookie"), this.cookieName(c)), this.options.secret);
  }

  /** Over https (as the request, or a trusted proxy, says) the cookie is `__Host-` prefixed: host-only, Secure, path /. */
  private cookieName(c: Context): string {
    return this.isHttps(c) ? "__Host-" + this.options.cookieName : this.options.cookieName;
  }

  private isHttps(c: Context): boolean {
    if (this.options.trustProxy) {
      const forwarded = c.req.header("x-forwarded-proto");
      if (forwarded) return forwarded.split(",")[0].trim().toLowerCase() === "https";
    }
    // c.req.url is always absolute: its scheme is its start (no URL parse on every request).
    return c.req.url.startsWith("https:");
  }

  /** Sets the cookie once, when it changed. */
  writeCookie(c: Context, state: RequestState) {
    if (!state.dirty) return;
    state.dirty = false;
    c.header("Set-Cookie", sessionCookieLine(this.cookieName(c), serializeSessionCookie(state.cookie), this.isHttps(c)), { append: true });
  }

  /** `c.var.replay.render`'s frame (request_replay.ts); a failure is counted, never the request's. */
  recordExplicit(c: Context, state: RequestState, name: string, props: Record<string, unknown>, html: string): Promise<void> {
    return this.guard(() => this.recordRender(c, state, name, props, html));
  }

  /** `c.var.replay.info` (request_replay.ts). */
  infoOf(state: RequestState, type: string, view?: View): void {
    void this.guard(() => this.target(state, view)?.info(type, this.now()));
  }

  /** `c.var.replay.end` (request_replay.ts). */
  endOf(state: RequestState, view?: View): void {
    void this.guard(() => this.endRecordingsOf(state, view));
  }

  private async guard(work: () => unknown): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown) {
    this.errors++;
    if (!this.warned) {
      this.warned = true;
      (this.options.logger ?? consoleLogger).warn(`recording failed and was skipped (further failures are counted silently): ${(error as Error)?.stack ?? error}`);
    }
  }
}

/**
 * Sessions held past which a new recording keeps no copy of its mount's
 * assigns (its next render is a snapshot): a flood of cookieless visitors, most
 * never coming back, costs a few hundred bytes of memory each instead of their
 * pages' assigns; ordinary traffic keeps its first delta.
 */
const BASE_KEPT_UP_TO = 1_000;

/** Seen views tried, outermost first, for the one whose markup the body contains. */
const CANDIDATES = 4;
/** The same when other requests' views may be among them (attach.ts). */
const SHARED_CANDIDATES = 8;


interface Continued {
  entry?: RecordingEntry;
  local?: ActiveRecording;
  view: string;
  url: string;
  sid: string;
}

function pathHash(url: string): string {
  return shortHash(safePath(url) ?? url);
}

function isAction(method: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

/** Query and route params, values that look like tokens (a `/reset/:id` token) already replaced. */
function routeParams(c: Context): Params {
  const out: Params = {};
  for (const [name, value] of Object.entries({ ...c.req.query(), ...c.req.param() })) {
    out[name] = typeof value === "string" ? redactParamValue(name, value) : value;
  }
  return out;
}

/** The parsed body (form or JSON). Hono caches it, so the handler can have read it first. */
async function bodyParams(c: Context): Promise<Params> {
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
function eventName(c: Context, params: Params, o: RecorderOptions): string {
  const fromHeader = c.req.header(o.eventHeader);
  if (fromHeader) return truncateEventName(redactEventName(fromHeader));
  const fromField = params[o.eventField];
  if (typeof fromField === "string" && fromField) return truncateEventName(redactEventName(fromField));
  return truncateEventName(`${c.req.method} ${c.req.routePath}`);
}

function safePath(url: string): string | undefined {
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
