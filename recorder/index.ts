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
 * recording and its request counter (session_cookie.ts, read and written by
 * request_cookie.ts), so an instance that has not seen the recording joins it
 * with a snapshot instead of starting another, and no request pays a store
 * round trip. Which recording a request continues is sessions.ts; what the
 * request carries (params, event name) is request_data.ts; `c.var.replay` is
 * request_replay.ts; picking the attached frame is attach.ts.
 */

import type { Context, MiddlewareHandler } from "hono";
import { type Assigns, frame, FrameKind, newRecordingId, type Params, shortHash } from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { backgroundTimer, type EventLog } from "../worker/mod.ts";
import { attachedFrame, Capture, watchContext, watchPreact } from "./attach.ts";
import { bodyParams, eventName, isAction, pathHash, routeParams, safePath, sampled } from "./request_data.ts";
import { SessionTable } from "./sessions.ts";
import { type ReplayContext, RequestReplay, type RequestRecorder, type RequestState } from "./request_replay.ts";
import { ActiveRecording, type RecordingSettings } from "./recording.ts";
import { type PropsOf, rendererOf, type View } from "./render.ts";
import type { AllowlistFilter } from "./allowlist.ts";
import { fidelityHash } from "./fidelity.ts";
import { isExactCopy } from "./sanitize.ts";
import { redactUrl } from "./secrets.ts";
import type { SessionCookie } from "./session_cookie.ts";
import { readSession, sessionOf, writeSession } from "./request_cookie.ts";

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
  /**
   * Whether assigns and deltas go through the built-in sanitizer alone. Only
   * then does an exact copy (sanitize.ts) prove that nothing was removed: a
   * custom `sanitizeAssigns` may drop a field and hand the rest to the default
   * one, whose copy of the rest is exact.
   */
  builtInAssignsSanitizer: boolean;
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


export class Recorder implements RequestRecorder {
  /** This instance's sessions and their recordings (sessions.ts). */
  private readonly table: SessionTable;
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
  get capped(): number {
    return this.table.capped;
  }

  constructor(private readonly log: EventLog, private readonly options: RecorderOptions) {
    this.table = new SessionTable(log, options);
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
        if (recorded) this.table.leaving(state, this.now());
        this.writeCookie(c, state);
        return c.body(null, 204);
      }
      // Sampled-out sessions are not observed at all: they pay nothing for attaching.
      const capture = recorded ? new Capture(this.viewNames) : undefined;
      const ctx = new RequestReplay(this, c, state, capture, recorded);
      c.set("replay", ctx);
      if (capture) {
        this.table.touch(state, this.now());
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
    for (const [sid, session] of [...this.table.sessions]) {
      for (const rec of session.recordings.values()) rec.leave(rec.lastActivity);
      this.table.sessions.delete(sid);
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
      const frame = attachedFrame(capture.seen, body, this.options.fidelity, (error) => this.failed(error));
      if (!frame) return void this.unserved++;
      await this.recordRender(c, state, frame.seen.name, frame.seen.props, frame.html);
      recorded = true;
    });
    return recorded;
  }

  private async recordRender(c: Context, state: RequestState, name: string, props: Record<string, unknown>, html: string) {
    const { sanitizer } = this.options.settings;
    const now = this.now();
    const allow = this.options.allowlist;
    const url = redactUrl(c.req.url, allow?.paramAllowed(name));
    const allowed = allow ? allow.assigns(name, props) : props;
    const assigns = sanitizer.sanitizeAssigns(allowed as Assigns);
    // Exact: nothing the page was rendered from is missing from what is stored.
    const exact = this.options.builtInAssignsSanitizer && allowed === props && isExactCopy(assigns);
    const hash = this.options.fidelity ? fidelityHash(html, this.options.fidelityKey, this.options.fidelityKeyConfigured, exact) : undefined;
    const found = this.table.recordingFor(state, name, url, now);
    if (!found && this.table.full(state.cookie.sid)) return;
    if (!found) {
      const rec = new ActiveRecording(newRecordingId(now), name, url, now, this.log, this.options.settings);
      rec.seq = 1;
      this.table.session(state.cookie.sid).recordings.set(name, rec);
      const sessionData = sanitizer.sanitizeParams(this.sessionData(c));
      const keepBase = this.table.sessions.size <= BASE_KEPT_UP_TO;
      rec.start({ view: name, url, sessionKey: shortHash(state.cookie.sid) }, sanitizer.sanitizeParams(this.allowParams(name, routeParams(c))), sessionData, assigns, hash, keepBase);
      this.table.recorded(state, rec, pathHash(url), now);
      return;
    }
    const rec = this.table.nextRequest(found);
    if (isAction(c.req.method)) {
      const body = await bodyParams(c);
      rec.event(eventName(c, body, this.options), sanitizer.sanitizeParams(this.allowParams(name, body)), now);
    } else {
      rec.params(url, sanitizer.sanitizeParams(this.allowParams(name, routeParams(c))), now);
    }
    rec.render(assigns, this.now(), hash);
    this.table.recorded(state, rec, pathHash(url), now);
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
    const candidates = this.table.candidates(state, now);
    const wanted = path === undefined ? undefined : shortHash(path);
    const pick = wanted === undefined
      ? candidates.sort((a, b) => b.lastAt - a.lastAt)[0]
      : candidates.find((x) => x.path === wanted);
    if (!pick) return;
    // Joining here, the recording's page is the one the form was on.
    const found = this.table.recordingFor(state, pick.view, pick.url || redactUrl(referer ?? c.req.url), now);
    if (!found) return;
    const rec = found.entry ? this.table.nextRequest(found) : found.local!;
    if (!found.entry) rec.seq++;
    const params = await bodyParams(c);
    rec.event(eventName(c, params, this.options), this.options.settings.sanitizer.sanitizeParams(this.allowParams(pick.view, params)), now);
    this.table.recorded(state, rec, pick.path, now);
  }

  /** The recording an info (server push) belongs to: the view's, or the session's latest. */
  private target(state: RequestState, view?: View): ActiveRecording | undefined {
    const name = view === undefined ? this.table.latestView(state) : this.viewNames.get(view);
    if (name === undefined) return undefined;
    const found = this.table.recordingFor(state, name, "", this.now());
    if (!found) return undefined;
    if (found.local) return found.local;
    // Joins the recording without counting a request: a push is not one.
    const rec = this.table.nextRequest(found);
    rec.seq--;
    return rec;
  }

  /** `c.var.replay.end()`: ends the view's recording (or every one of the session) for good, on whichever instance it lives. */
  private endRecordingsOf(state: RequestState, view?: View) {
    const name = view === undefined ? undefined : this.viewNames.get(view);
    if (view !== undefined && name === undefined) return;
    const sid = state.cookie.sid;
    const session = this.table.sessions.get(sid);
    state.ended = true;
    for (const entry of [...state.cookie.entries]) {
      if (name !== undefined && entry.view !== name) continue;
      if (session?.recordings.get(entry.view)?.id !== entry.id) this.log.append(entry.id, frame(entry.id, FrameKind.end, 0, "", "0", entry.seq));
      this.table.dropEntry(state, entry.view);
    }
    this.table.endRecordings(sid, (viewName) => name === undefined || viewName === name, (rec) => rec.end());
    // An explicit end is often followed by someone reading the recording: persisted now, not at the next poll.
    this.log.nudge();
  }

  private startSweep() {
    if (this.stopSweep) return;
    const every = Math.max(50, Math.min(1000, this.options.idleTimeoutMs / 4, this.options.beaconGraceMs / 4));
    this.stopSweep = backgroundTimer(() => this.sweep(this.now()), every, true);
  }

  /** Lets go of recordings that went idle here, or whose page went away and did not come back. */
  sweep(now: number) {
    this.table.sweep(now);
  }

  /** The session from the cookie; a missing one, or one whose sid this server did not issue, is a new session. */
  private readCookie(c: Context): RequestState {
    return readSession(c, this.options);
  }

  /** The request's session cookie, if it carries one this server signed. */
  sessionOf(c: Context): SessionCookie | undefined {
    return sessionOf(c, this.options);
  }

  /** Sets the cookie once, when it changed. */
  writeCookie(c: Context, state: RequestState) {
    writeSession(c, state, this.options);
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
