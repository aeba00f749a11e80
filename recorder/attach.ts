/**
 * Recording without changing handlers: which registered view a request
 * rendered, with which props, and the HTML it served — seen from the outside,
 * so `c.html(renderToString(<Page {...props} />))`, `c.html(<Page />)` and
 * `c.render(<Page />)` under a `jsxRenderer` layout are recorded as
 * `c.var.replay.render(Page, props)` is.
 *
 * Invariants, and why:
 * - **Per request, and no AsyncLocalStorage.** On Node 20 an
 *   AsyncLocalStorage turns on promise hooks for every promise of the process
 *   (measured: 14 KB more garbage and ~20 µs a request, paid by unrecorded
 *   requests too). Instead, registered views rendered while a recorded request
 *   is in flight go to a short process-wide list, numbered; a request takes
 *   those numbered after it started, when it serves its body (`c.html`,
 *   `c.body`). Renders made while no recorded request is in flight (a
 *   background job) are not kept at all; a timer a request left behind renders
 *   after that request took its own.
 * - **Told apart by what was served.** When two recorded requests overlapped,
 *   a request's list may hold the other's views, marked `shared`. The recorder
 *   then keeps only a view whose markup, rendered alone, is a verbatim slice of
 *   the body this request served (index.ts `attachedFrame`): another
 *   request's view with other props renders other markup. One that renders the
 *   same markup records the same frame, so either is right. A request whose
 *   shared candidates all fail that test records nothing (counted in
 *   `unservedRenders`) rather than guess.
 * - **Preact: views that were rendered, not merely created.** The hook is
 *   Preact's public `options.diffed`, which preact-render-to-string (and
 *   Preact's own diff) call after a vnode and everything inside it rendered:
 *   post-order, so an enclosing view is seen after the views inside it. The
 *   hook is installed once per copy of this module, chained to whatever hook
 *   was there before, and costs one WeakSet lookup per component vnode (none
 *   for elements) of any type that no recorder registered.
 * - **Props are kept only while a request may still take them.** A render's
 *   props stay in the list until every open request has taken it, or started
 *   after it: a slot no open request can take is emptied when a request ends,
 *   so under load the props of a render die young instead of living through
 *   the next 63 renders (and into the old generation).
 * - **hono/jsx: the elements the handler passes.** hono/jsx has no render
 *   hooks, so the request's `c.html` and `c.render` are wrapped (on that
 *   context object only, and only when a hono/jsx view is registered) and the
 *   element tree they are given is searched breadth first for a registered
 *   view: the outermost one. A view created inside another component's render
 *   is not seen; pass it from the handler.
 * - **The body is a string the handler gave Hono.** It is taken from `c.html`
 *   or `c.body` (the last call of the request): a string as given, or for an
 *   element or a Promise the finished response, read from a clone (hono has
 *   already resolved it to a string: a clone cannot wait on a stream). A
 *   streamed body, or a Response the handler built itself, is not read — the
 *   recorder would otherwise hold the response until the stream ended — and is
 *   not recorded (counted in `Recorder.unserved`).
 * - **Nothing when nothing was seen.** A request that rendered no registered
 *   view pays for the capture object and two bound wrappers (three with
 *   hono/jsx views registered); the recorder looks at nothing after `next()`.
 */

import type { Context } from "hono";
import { options, type VNode } from "preact";
import { renderView, type View } from "./render.ts";
import { isQuiet, onRoot, renderedOnce, renderOnce, unobserved } from "./render_once.ts";

/** A registered view the request rendered, and its props as rendered. */
export interface Seen {
  view: View;
  name: string;
  props: Record<string, unknown>;
  /** Rendered while another recorded request was in flight too: it may be that request's (see the header). */
  shared?: boolean;
  /** Its markup, when the render noted it as the view renders alone (render_once.ts): no second render needed. */
  html?: string;
}

/** What one recorded request rendered and served. Create it when the request starts, `close()` it when it is over. */
export class Capture {
  readonly seen: Seen[] = [];
  /** The request is over: later renders (a timer it left behind) are not its own. */
  closed = false;
  /** The handler recorded through `c.var.replay.render`: that frame is the request's. */
  explicit = false;
  /** The body of the last `c.html`/`c.body` call made after a view was seen; undefined when that call served no string. */
  body?: string | Promise<string | undefined>;
  /** Number of the last Preact render this request has taken (or that happened before it started). */
  taken = rendered.count;

  constructor(readonly names: ReadonlyMap<View, string>) {
    open.add(this);
  }

  note(view: View, props: Record<string, unknown> | null | undefined) {
    if (this.closed || this.explicit) return;
    const name = this.names.get(view);
    if (name !== undefined) this.seen.push({ view, name, props: { ...props } });
  }

  /** Takes the Preact renders since the last take: called when the request serves a body. */
  takeRendered() {
    if (this.closed || this.explicit) return;
    const from = Math.max(this.taken, rendered.count - RECENT);
    for (let n = from; n < rendered.count; n++) {
      const r = rendered.ring[n % RECENT];
      const name = r && this.names.get(r.view);
      if (name !== undefined) this.seen.push({ view: r!.view, name, props: r!.props, shared: r!.shared, html: r!.html });
    }
    this.taken = rendered.count;
  }

  /** The context's own `html`, `body` and `render`, which the wrappers `watchContext` installs call. */
  originals?: { html: Context["html"]; body: Context["body"]; render: Context["render"]; hono: boolean };

  close() {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    releaseTaken();
  }
}

// ---------------------------------------------------------------- Preact

/**
 * Renders kept for requests to take; more renders than this during one request
 * and its oldest are lost. Small: what is kept stays alive (and a young object
 * that stays alive is what makes garbage collection expensive).
 */
const RECENT = 64;

interface Rendered {
  view: View;
  props: Record<string, unknown>;
  shared: boolean;
  html?: string;
}

/**
 * Registered Preact views rendered while recorded requests were in flight,
 * numbered by `count`; slots numbered below `released` are empty (see
 * `releaseTaken`).
 */
const rendered = { ring: new Array<Rendered | undefined>(RECENT), count: 0, released: 0 };

/** The recorded requests in flight: their captures, until closed. */
const open = new Set<Capture>();

/** Empties the slots no open capture can take any more: those before every open capture's `taken`. */
function releaseTaken(): void {
  let oldest = rendered.count;
  for (const capture of open) if (capture.taken < oldest) oldest = capture.taken;
  for (let n = Math.max(rendered.released, rendered.count - RECENT); n < oldest; n++) rendered.ring[n % RECENT] = undefined;
  if (oldest > rendered.released) rendered.released = oldest;
}

/** Slots holding a render's props (for tests: what the list keeps alive). */
export function heldRenders(): number {
  return rendered.ring.reduce((held, slot) => held + (slot ? 1 : 0), 0);
}

/** Keeps a registered view's render for the requests in flight to take; `html`: its markup rendered alone, if known. */
function noteRender(view: View, props: Record<string, unknown>, html: string | undefined): void {
  rendered.ring[rendered.count++ % RECENT] = { view, props, shared: open.size > 1, html };
}

/** Preact views registered with any recorder in this process: the hook's only test for every other vnode. */
const preactViews = new WeakSet<object>();
let hooked = false;

/** Preact's options as preact-render-to-string calls them: the diff hook (`_diff`) and the root hook (`_root`). */
type RenderHooks = { __b?: (vnode: VNode) => void; __?: (vnode: VNode, parent: object) => void };

/**
 * Watches `views` (Preact ones); installs the hooks on first use, each chained
 * to the one there before: the diff hook renders a registered view once for
 * its markup (render_once.ts), `options.diffed` notes views rendered in place.
 */
export function watchPreact(views: Iterable<View>) {
  for (const view of views) preactViews.add(view);
  if (hooked) return;
  hooked = true;
  const hooks = options as unknown as RenderHooks;
  const previousDiff = hooks.__b;
  hooks.__b = (vnode: VNode) => {
    if (observed(vnode)) renderOnce(vnode, noteRender);
    previousDiff?.(vnode);
  };
  const previousRoot = hooks.__;
  hooks.__ = (vnode: VNode, parent: object) => {
    if (open.size > 0) onRoot(parent);
    previousRoot?.(vnode, parent);
  };
  const previous = options.diffed;
  options.diffed = (vnode: VNode) => {
    // Elements and text, most vnodes, are neither a view nor a stand-in: no lookups for them.
    // Copied now: props the handler changes after rendering are not what was rendered.
    if (typeof vnode.type === "function" && !renderedOnce(vnode) && observed(vnode)) noteRender(vnode.type as View, { ...(vnode.props as Record<string, unknown>) }, undefined);
    previous?.(vnode);
  };
}

/** A registered view's vnode while a recorded request is in flight. Elements (a string type) are most vnodes: no lookup for them. */
function observed(vnode: VNode): boolean {
  return open.size > 0 && !isQuiet() && typeof vnode.type === "function" && preactViews.has(vnode.type);
}

// ---------------------------------------------------------------- hono/jsx and the body

/** Hono's JSXNode, as far as the search needs it. */
interface HonoNode {
  tag: unknown;
  props: Record<string, unknown>;
  children?: unknown[];
}

/** Nodes searched at most per call: a handler's element tree is small; a huge one is not worth the time. */
const SEARCH_LIMIT = 2_000;

/** The outermost registered hono/jsx view in the element tree a handler passed (breadth first). */
function noteHonoTree(capture: Capture, root: unknown) {
  if (capture.closed || capture.explicit || typeof root !== "object" || root === null) return;
  const queue: unknown[] = [root];
  for (let i = 0; i < queue.length && i < SEARCH_LIMIT; i++) {
    const item = queue[i];
    if (Array.isArray(item)) {
      queue.push(...item);
      continue;
    }
    if (typeof item !== "object" || item === null || !("tag" in item)) continue;
    const node = item as HonoNode;
    if (typeof node.tag === "function" && capture.names.has(node.tag as View)) {
      capture.note(node.tag as View, node.props);
      return;
    }
    if (Array.isArray(node.children)) queue.push(...node.children);
    else if (node.props?.children !== undefined) queue.push(node.props.children);
  }
}

/**
 * Wraps this request's `c.html` and `c.body` (and `c.render` when `hono` is set)
 * so the capture learns the body served and the hono/jsx elements passed.
 * Only the context object of this request is touched; the wrappers call the
 * originals with the same arguments and return what they return.
 *
 * The wrappers are module functions bound to the capture, not closures made per
 * request: on V8 (Node 20, measured through the built package) one new closure
 * per request reachable from the request made every scavenge promote ten times
 * as much (1.4 MB against 0.13 MB, the request and response objects with it)
 * and doubled the GC pauses; a bound function does not. A bound function is
 * also what a handler that destructures `const { html } = c` needs: it works
 * without `this`.
 */
export function watchContext(c: Context, capture: Capture, hono: boolean) {
  capture.originals = { html: c.html, body: c.body, render: c.render, hono };
  c.html = servedHtml.bind(capture) as typeof c.html;
  c.body = servedBody.bind(capture) as typeof c.body;
  if (hono) c.render = passedToRender.bind(capture) as typeof c.render;
}

type Call = (...args: unknown[]) => unknown;

function servedHtml(this: Capture, content: unknown, ...rest: unknown[]): unknown {
  this.takeRendered();
  if (this.originals!.hono) noteHonoTree(this, content);
  const out = (this.originals!.html as Call)(content, ...rest);
  if (this.seen.length > 0 && !this.closed) this.body = servedText(content, out);
  return out;
}

function servedBody(this: Capture, data: unknown, ...rest: unknown[]): unknown {
  this.takeRendered();
  const out = (this.originals!.body as Call)(data, ...rest);
  if (this.seen.length > 0 && !this.closed) this.body = typeof data === "string" ? data : undefined;
  return out;
}

function passedToRender(this: Capture, content: unknown, ...rest: unknown[]): unknown {
  noteHonoTree(this, content);
  return (this.originals!.render as Call)(content, ...rest);
}

/**
 * The text `c.html(content)` served. A plain string is served as given. An
 * HtmlEscapedString without callbacks is that string. Anything else (an
 * element, a Promise, callbacks to resolve) Hono resolves to a string before
 * building the response, so the response's clone is read: a string body, never
 * a stream that could keep the recorder waiting.
 */
function servedText(content: unknown, out: unknown): string | Promise<string | undefined> | undefined {
  if (typeof content === "string") return content;
  if (content instanceof String && !((content as { callbacks?: unknown[] }).callbacks?.length)) return String(content);
  // A rejection here is the handler's own failure, which Hono reports as it
  // does without the recorder; for the recorder it means nothing was served.
  const text = (res: unknown) => (res instanceof Response ? res.clone().text() : undefined);
  if (out instanceof Response) return Promise.resolve(out).then(text).then(undefined, nothingServed);
  if (out instanceof Promise) return out.then(text).then(undefined, nothingServed);
  return undefined;
}

function nothingServed(): undefined {
  return undefined;
}

/** Seen views tried, outermost first, for the one whose markup the body contains. */
const CANDIDATES = 4;
/** The same when other requests' views may be among them (attach.ts). */
const SHARED_CANDIDATES = 8;

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
export function attachedFrame(seen: readonly Seen[], body: string, fidelity: boolean, failed: (error: unknown) => void): { seen: Seen; html: string } | undefined {
  const last = seen[seen.length - 1];
  // Views another request may have rendered (attach.ts) are told apart by the served markup, fidelity or not.
  const shared = seen.some((s) => s.shared);
  if (!fidelity && !shared) return { seen: last, html: body };
  const tries = shared ? SHARED_CANDIDATES : CANDIDATES;
  for (let i = seen.length - 1; i >= Math.max(0, seen.length - tries); i--) {
    let html: string;
    try {
      html = seen[i].html ?? unobserved(renderView, seen[i].view, seen[i].props);
    } catch (error) {
      // Rendered in the request, so it can render: only alone (a hono/jsx
      // useRequestContext, say) it cannot. Reported once, counted; the next view out is tried.
      failed(error);
      continue;
    }
    if (holds(body, html)) return { seen: seen[i], html };
  }
  return shared ? undefined : { seen: last, html: body };
}

/**
 * Whether `body` holds `html` verbatim. Most often the markup is the body, or
 * its end (a doctype before a view that renders <html>): compared as a whole
 * first, which is a memory compare, where `includes` compared it character by
 * character (22,000 instructions a request on the demo's 2.7 KB signup page).
 */
function holds(body: string, html: string): boolean {
  const before = body.length - html.length;
  if (before < 0) return false;
  if (before === 0 ? body === html : body.slice(before) === html) return true;
  return body.includes(html);
}
