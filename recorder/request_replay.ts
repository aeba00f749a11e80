/**
 * `c.var.replay`: what a handler calls to render and record a view, mark a
 * server push, or end a recording — one object per request.
 *
 * Invariants, and why:
 * - Its methods live on the prototype; a request pays for one small object,
 *   not three closures over the request. On V8 (Node 20) new function objects
 *   per request that stay reachable from the request's context made every
 *   scavenge promote several times as much (see attach.ts, where the same was
 *   measured for the `c.html` wrappers).
 * - `render`, `info` and `end` still work detached (`const { render } =
 *   c.var.replay`), as they did when they were closures: reading one binds it
 *   to this request, once (a bound function, which V8 does not promote as it
 *   did the closures).
 * - Recording failures never fail the request: the recorder's `guard` counts
 *   them and warns once (index.ts).
 */

import type { Context } from "hono";
import type { Capture } from "./attach.ts";
import type { RecordingEntry } from "./session_cookie.ts";
import { type PropsOf, renderView, type View, withDoctype } from "./render.ts";
import { unobserved } from "./render_once.ts";

/** What a request's `c.var.replay` can do. */
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

/** The session as this request found it (its cookie) and what the request changed. */
export interface RequestState {
  cookie: { sid: string; entries: RecordingEntry[] };
  dirty: boolean;
  ended?: boolean;
}

/** What `RequestReplay` asks of the recorder (index.ts); each call guarded there. */
export interface RequestRecorder {
  viewName(view: View): string;
  recordExplicit(c: Context, state: RequestState, name: string, props: Record<string, unknown>, html: string): Promise<void>;
  infoOf(state: RequestState, type: string, view?: View): void;
  endOf(state: RequestState, view?: View): void;
  writeCookie(c: Context, state: RequestState): void;
}

type Init = { status?: number; headers?: Record<string, string> };

export class RequestReplay implements ReplayContext {
  /** Whether `render` recorded this request's frame. */
  rendered = false;
  private boundRender?: ReplayContext["render"];
  private boundInfo?: ReplayContext["info"];
  private boundEnd?: ReplayContext["end"];

  constructor(
    private readonly recorder: RequestRecorder,
    private readonly c: Context,
    private readonly state: RequestState,
    private readonly capture: Capture | undefined,
    readonly recorded: boolean,
  ) {}

  get render(): ReplayContext["render"] {
    return (this.boundRender ??= this.renderView.bind(this) as ReplayContext["render"]);
  }

  get info(): ReplayContext["info"] {
    return (this.boundInfo ??= this.markInfo.bind(this));
  }

  get end(): ReplayContext["end"] {
    return (this.boundEnd ??= this.endRecording.bind(this));
  }

  private async renderView(view: View, props: Record<string, unknown>, init?: Init): Promise<Response> {
    const { recorder, c, state } = this;
    // Checked in every session, sampled or not, so a missing view shows up at once.
    const name = recorder.viewName(view);
    // Set first: the render below is observed too, and this frame is the request's.
    if (this.capture) this.capture.explicit = true;
    const html = unobserved(renderView, view, props);
    if (this.recorded) {
      this.rendered = true;
      await recorder.recordExplicit(c, state, name, props, html);
    }
    // Before the response exists: setting a header afterwards makes Hono copy the response.
    recorder.writeCookie(c, state);
    return c.html(withDoctype(html), (init?.status ?? 200) as 200, init?.headers);
  }

  private markInfo(type: string, view?: View): void {
    if (this.recorded) this.recorder.infoOf(this.state, type, view);
  }

  private endRecording(view?: View): void {
    if (this.recorded) this.recorder.endOf(this.state, view);
  }
}
