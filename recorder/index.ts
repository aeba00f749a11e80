/**
 * The Hono middleware. It gives each browser a session cookie and each handler
 * `c.var.replay`, whose `render` renders a registered Preact view and records
 * the transition: a mount the first time the view is seen in the session, then
 * params (GET) or an event (any other method) followed by a render. Recording
 * never fails or slows a request beyond framing text into the ring: every error
 * inside it is caught, counted and reported once.
 */

import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { type Assigns, newRecordingId, type Params, randomToken, shortHash } from "../format/mod.ts";
import { backgroundTimer, type EventLog } from "../worker/mod.ts";
import { ActiveRecording, type RecordingSettings } from "./recording.ts";
import { type PropsOf, renderView, type View, withDoctype } from "./render.ts";
import { isSensitiveKey } from "./sanitize.ts";

export type { PropsOf, View };

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
}

/** What handlers get as `c.var.replay`. */
export interface ReplayContext {
  /**
   * Renders `view` (Preact, or hono/jsx marked with `honoView`) with `props` as the
   * response, and records it. Props are checked against the view's own props type.
   */
  render<V extends View>(view: V, props: PropsOf<V>, init?: { status?: number; headers?: Record<string, string> }): Promise<Response>;
  /** Records a server push (SSE message, WebSocket frame) for the view, or the session's latest view: a type marker only. */
  info(type: string, view?: View): void;
  /** Ends the recording of `view`, or of every view of this session. */
  end(view?: View): void;
  /** Whether this session is recorded (sampling). */
  readonly recorded: boolean;
}

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

export class Recorder {
  private readonly sessions = new Map<string, Session>();
  private readonly viewNames = new Map<View, string>();
  private stopSweep?: () => void;
  private warned = false;
  errors = 0;

  constructor(private readonly log: EventLog, private readonly options: RecorderOptions) {
    for (const [name, view] of Object.entries(options.views)) this.viewNames.set(view, name);
  }

  middleware(): MiddlewareHandler<ReplayEnv> {
    this.startSweep();
    const o = this.options;
    return async (c, next) => {
      const sid = this.sessionId(c);
      const recorded = sampled(sid, o.sampleRate);
      if (c.req.method === "POST" && c.req.path === o.beaconPath) {
        if (recorded) this.leaving(sid);
        return c.body(null, 204);
      }
      let rendered = false;
      const ctx: ReplayContext = {
        recorded,
        render: async (view, props, init) => {
          // Checked in every session, sampled or not, so a missing view shows up at once.
          const name = this.viewName(view as View);
          const html = renderView(view, props as object);
          if (recorded) {
            rendered = true;
            await this.guard(() => this.recordRender(c, sid, name, props as Record<string, unknown>, html));
          }
          return c.html(withDoctype(html), (init?.status ?? 200) as 200, init?.headers);
        },
        info: (type, view) => {
          if (recorded) void this.guard(() => this.target(sid, view)?.info(type, Date.now()));
        },
        end: (view) => {
          if (recorded) void this.guard(() => this.endSession(sid, view));
        },
      };
      c.set("replay", ctx);
      if (recorded) this.touch(sid);
      await next();
      // A form post that redirects (post/redirect/get) renders nothing itself: it
      // is still the user's event, on the page the form was on.
      if (recorded && !rendered && isAction(c.req.method)) {
        await this.guard(() => this.recordUnrenderedEvent(c, sid));
      }
    };
  }

  /** Ends every recording (server shutdown). */
  endAll(): void {
    for (const sid of [...this.sessions.keys()]) this.endSession(sid);
    this.stopSweep?.();
  }

  /** Active recordings in this thread, for tests and diagnostics. */
  activeCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.recordings.size;
    return n;
  }

  private viewName(view: View): string {
    const name = this.viewNames.get(view);
    if (name === undefined) {
      throw new TypeError(
        `hono-replay: view ${view.displayName ?? view.name ?? "?"} is not registered; add it to createReplay({ views })`,
      );
    }
    return name;
  }

  private async recordRender(c: Context, sid: string, name: string, props: Record<string, unknown>, html: string) {
    const { sanitizer } = this.options.settings;
    const now = Date.now();
    const session = this.session(sid);
    const url = redactUrl(c.req.url);
    const hash = this.options.fidelity ? shortHash(html) : undefined;
    const assigns = sanitizer.sanitizeAssigns(props as Assigns);
    let rec = session.recordings.get(name);
    if (!rec) {
      rec = new ActiveRecording(newRecordingId(now), name, url, now, this.log, this.options.settings);
      session.recordings.set(name, rec);
      const sessionData = sanitizer.sanitizeParams(this.sessionData(c));
      rec.start({ view: name, url, sessionKey: shortHash(sid) }, sanitizer.sanitizeParams(routeParams(c)), sessionData, assigns, hash);
    } else if (isAction(c.req.method)) {
      const body = await bodyParams(c);
      rec.event(eventName(c, body, this.options), sanitizer.sanitizeParams(body), now);
      rec.render(assigns, Date.now(), hash);
    } else {
      rec.params(url, sanitizer.sanitizeParams(routeParams(c)), now);
      rec.render(assigns, Date.now(), hash);
    }
    rec.lastActivity = now;
    session.latest = rec;
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

  private async recordUnrenderedEvent(c: Context, sid: string) {
    const session = this.sessions.get(sid);
    if (!session || session.recordings.size === 0) return;
    // The page the form was on, by its Referer. Only without one (a no-referrer policy)
    // is the latest view assumed: a post from any other page (an admin tool, the
    // dashboard) is not an event of the views being recorded.
    const referer = c.req.header("referer");
    const path = referer ? safePath(referer) : undefined;
    const rec = referer === undefined
      ? session.latest
      : [...session.recordings.values()].find((r) => path !== undefined && safePath(r.url) === path);
    if (!rec) return;
    const params = await bodyParams(c);
    rec.event(eventName(c, params, this.options), this.options.settings.sanitizer.sanitizeParams(params), Date.now());
  }

  private target(sid: string, view?: View): ActiveRecording | undefined {
    const session = this.sessions.get(sid);
    if (!session) return undefined;
    if (!view) return session.latest;
    const name = this.viewNames.get(view);
    return name === undefined ? undefined : session.recordings.get(name);
  }

  private endSession(sid: string, view?: View) {
    this.endRecordings(sid, (name) => !view || this.viewNames.get(view) === name);
  }

  /** Ends the session's recordings that `which` picks, and forgets the session once it has none. */
  private endRecordings(sid: string, which: (name: string, rec: ActiveRecording) => boolean) {
    const session = this.sessions.get(sid);
    if (!session) return;
    for (const [name, rec] of session.recordings) {
      if (!which(name, rec)) continue;
      rec.end();
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
  private touch(sid: string) {
    const s = this.sessions.get(sid);
    if (!s) return;
    const now = Date.now();
    for (const rec of s.recordings.values()) {
      rec.lastActivity = now;
      rec.leavingUntil = undefined;
    }
  }

  private leaving(sid: string) {
    const s = this.sessions.get(sid);
    if (!s) return;
    const until = Date.now() + this.options.beaconGraceMs;
    for (const rec of s.recordings.values()) rec.leavingUntil = until;
  }

  private startSweep() {
    if (this.stopSweep) return;
    const every = Math.max(50, Math.min(1000, this.options.idleTimeoutMs / 4, this.options.beaconGraceMs / 4));
    this.stopSweep = backgroundTimer(() => this.sweep(Date.now()), every, true);
  }

  /** Ends recordings that went idle, or whose page went away and did not come back. */
  sweep(now: number) {
    for (const sid of [...this.sessions.keys()]) {
      this.endRecordings(sid, (_, rec) =>
        now - rec.lastActivity > this.options.idleTimeoutMs || (rec.leavingUntil !== undefined && now >= rec.leavingUntil));
    }
  }

  private sessionId(c: Context): string {
    const existing = getCookie(c, this.options.cookieName);
    if (existing && /^[a-z0-9]{24}$/.test(existing)) return existing;
    const sid = randomToken(24);
    setCookie(c, this.options.cookieName, sid, {
      httpOnly: true,
      sameSite: "Lax",
      path: "/",
      secure: new URL(c.req.url).protocol === "https:",
    });
    return sid;
  }

  private async guard(work: () => unknown): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.errors++;
      if (!this.warned) {
        this.warned = true;
        console.warn(`hono-replay: recording failed and was skipped (further failures are counted silently): ${(error as Error)?.stack ?? error}`);
      }
    }
  }
}

function isAction(method: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

function routeParams(c: Context): Params {
  return { ...c.req.query(), ...c.req.param() };
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
  } catch {
    // A body the handler consumed raw, or malformed: the event is still recorded.
  }
  return {};
}

function eventName(c: Context, params: Params, o: RecorderOptions): string {
  const fromHeader = c.req.header(o.eventHeader);
  if (fromHeader) return fromHeader;
  const fromField = params[o.eventField];
  if (typeof fromField === "string" && fromField) return fromField;
  return `${c.req.method} ${c.req.routePath}`;
}

/**
 * The URL as stored: query parameters whose name says secret (`?token=…`,
 * `?password=…`) keep their name but lose their value, by the sanitizer's own key rule.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  let changed = false;
  for (const key of new Set(params.keys())) {
    if (isSensitiveKey(key)) {
      params.set(key, "[redacted]");
      changed = true;
    }
  }
  return changed ? url.slice(0, q + 1) + params.toString() : url;
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
