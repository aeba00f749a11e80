/**
 * Rendering an attached Preact view once: the markup the fidelity hash covers
 * is taken from the handler's own render instead of rendering the view a
 * second time, alone, after the response (attach.ts `attachedFrame`). That
 * second render was the largest cost of attaching: +212,000 instructions a
 * request on the demo's signup form (bench section 8), as much as the page.
 *
 * How: while a recorded request is in flight, the diff hook (`options.__b`,
 * which preact-render-to-string calls before it reads a vnode's type) gives a
 * registered view's vnode a stand-in type for that render. The stand-in
 * renders the view with the same props and context into a string, notes it,
 * and returns it as a Fragment whose `tpl` holds that markup: the renderer
 * emits it verbatim, as it emits Deno's precompiled JSX. The vnode gets its
 * type back once it rendered (`restoreType`, from `options.diffed`).
 *
 * Invariants, and why:
 * - **The served page does not change.** The view renders with the context
 *   it was given (providers above it included) and continues the page's
 *   `useId` sequence (the stand-in's render shares the page root's id
 *   counter; a render that throws gives back the ids it took), so its markup
 *   is what it would have been in place. Only renders that began through the
 *   root hook are touched: preact-render-to-string's `renderToString` and
 *   `renderToStringAsync`, which (6.6 and later, the peer range) emit `tpl`.
 *   Where the markup could still differ, the view renders in place, as
 *   without the recorder: inside `<svg>` or `<select>` (the renderer's modes
 *   there), when the stand-in cannot find its own vnode, and when the
 *   separate render throws (a view that suspends under renderToStringAsync
 *   throws there; a view that fails then fails in place, rendered twice).
 *   There a function view is called as the app vnode's own component, as the
 *   renderer calls one (its render hook first, its `contextType`), so a
 *   suspension reaches the renderer from the app's vnode, which retries from
 *   where it would have (a vnode of the view's own retried the view alone,
 *   after later siblings took their ids). A class view gets a vnode of its own.
 * - **Only markup the view renders alone is hashed.** The player renders a
 *   frame alone: no providers, ids from the start. Markup rendered under
 *   providers, after other components took ids, or empty (a hono/jsx view
 *   registered as Preact), is served but noted without markup, and
 *   attachedFrame renders the view alone, as before, and says what is wrong.
 * - **Views inside a stand-in are noted, not substituted**, enclosed views
 *   first, as in place: attachedFrame can still fall back to an inner view.
 * - **The vnode is the app's again as soon as the stand-in runs** (the
 *   renderer has read its type by then), or once it rendered if the stand-in
 *   never ran: an element the app keeps and renders again is its own.
 * - **The recorder's own renders are not observed** (`unobserved`: the
 *   explicit `c.var.replay.render`, attachedFrame's): nothing in them is
 *   substituted or noted.
 */

import { Fragment, h, options, type VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import type { View } from "./render.ts";

/** On the parent of a render that began through the root hook (preact-render-to-string's renderToString and renderToStringAsync): an own property, not a weak set (see the slots below). */
const KNOWN_ROOT = Symbol("hono-replay.knownRoot");
/**
 * On the vnode a stand-in makes to render its view in place (a class view, or
 * the children a renderer without `tpl` renders): never given a stand-in
 * itself, however often it renders.
 */
const IN_PLACE = Symbol("hono-replay.inPlace");
/**
 * On a render's root: the app's vnodes rendered in place in that render after
 * their separate render threw. The renderer renders such a vnode again within
 * the render (a retry after a suspension), and it renders in place again; in a
 * later render (an element the app keeps) it gets a stand-in as ever. Written
 * only on that rare path; it goes with the render.
 */
const IN_PLACE_HERE = Symbol("hono-replay.inPlaceHere");
/**
 * On the component the renderer made for such a vnode: the renderer calls the
 * stand-in again on it after a state update during render, and it renders in
 * place at once rather than trying its separate render again.
 */
const RENDERED_IN_PLACE = Symbol("hono-replay.renderedInPlace");

/** Preact's vnode as preact-render-to-string sets it up (mangled names, stable across Preact 10 and 11 renderers). */
interface RenderedVNode {
  type: unknown;
  props: Record<string, unknown>;
  /** Parent vnode (`_parent`); null at a render's root. */
  __?: RenderedVNode | null;
  /** The useId counter of a render root (`_mask`). */
  __m?: [number, number];
  [KNOWN_ROOT]?: true;
  [IN_PLACE]?: true;
  [IN_PLACE_HERE]?: Set<RenderedVNode>;
}

/** The component preact-render-to-string makes for a function's vnode (`__v`: `_vnode`). */
type RenderedComponent = { __v?: RenderedVNode; context: unknown; [RENDERED_IN_PLACE]?: true };

/** What the stand-in reports: the view, its props, and its markup when that is the markup it renders alone. */
export type NoteRender = (view: View, props: Record<string, unknown>, alone: string | undefined) => void;

const quiet = { on: false };

/** Whether the recorder is rendering itself (see `unobserved`). */
export function isQuiet(): boolean {
  return quiet.on;
}

/** Runs the recorder's own render (`c.var.replay.render`, which records its frame itself) unobserved. */
export function unobserved<A, B, T>(render: (a: A, b: B) => T, a: A, b: B): T {
  if (quiet.on) return render(a, b);
  quiet.on = true;
  try {
    return render(a, b);
  } finally {
    quiet.on = false;
  }
}

/*
 * Which vnodes are which is kept in single slots and own properties, not in
 * weak collections. A slot's mark is set and consumed within one synchronous
 * step of the renderer (a stand-in runs right after the diff hook that gave it;
 * its vnode's `options.diffed` comes right after the Fragment it returned,
 * whose `tpl` has no children to render), so at most one of each is pending; a
 * slot never consumed (a render that threw) is overwritten by the next. A mark
 * that must outlive such a step is a property of an object the recorder made or
 * preact-render-to-string made for the render (IN_PLACE, KNOWN_ROOT,
 * IN_PLACE_HERE, RENDERED_IN_PLACE), never of the app's. Weak collections did
 * the same job at a cost: six insertions of young vnodes into old tables a
 * request, each through V8's ephemeron write barrier and the scavenger's
 * ephemeron pass (perf, the bench's in-process attached load: about 2% of the
 * request thread), and an identity hash for every component vnode of every
 * render that `renderedOnce` looked up.
 */
/** The vnode given a stand-in, and its view, until the stand-in runs (or, if it never does, until it rendered). */
let standingVnode: RenderedVNode | undefined;
let standingView: View | undefined;
/** The vnode whose render the stand-in noted: `options.diffed` must not note it again. */
let notedVnode: object | undefined;
/** The stand-in's own render of the view (renderApart), while it renders. */
let apartVnode: object | undefined;
const standIns = new WeakMap<View, (props: Record<string, unknown>, context: object) => unknown>();
/** The page's useId counter, for the root of the stand-in's render (`onRoot`). */
let pageIds: [number, number] | undefined;
/** Stand-ins rendering now: views inside them render in place (and are noted, enclosed views first). */
let standInDepth = 0;
/** Views rendered in place because their separate render threw (counted; the render in place shows the error, if any). */
export const renderedInPlace = { count: 0 };

/** Gives `vnode` (a registered view's) a stand-in for this render, unless it must render in place. */
export function renderOnce(vnode: VNode, note: NoteRender): void {
  if (vnode === notedVnode) notedVnode = undefined;
  const node = vnode as unknown as RenderedVNode;
  if (standInDepth > 0 || node[IN_PLACE]) return;
  const root = knownRootOutsideSvgOrSelect(node);
  if (root === undefined || root[IN_PLACE_HERE]?.has(node)) return;
  // A stand-in that never ran (its render threw first): that vnode is the app's again.
  restoreType(standingVnode);
  standingVnode = node;
  standingView = node.type as View;
  node.type = standInFor(standingView, note);
}

/** Called from `options.diffed`: whether the stand-in noted this vnode's render (else it rendered in place; its type is put back). */
export function renderedOnce(vnode: VNode): boolean {
  if (vnode === notedVnode) {
    notedVnode = undefined;
    return true;
  }
  if (vnode === apartVnode) return true;
  restoreType(vnode);
  return false;
}

/** The root hook (`options.__`, called with an object whose `__k` is the render's root vnode). */
export function onRoot(parent: { __k?: RenderedVNode }): void {
  if (!parent.__k) return;
  parent.__k[KNOWN_ROOT] = true;
  if (pageIds === undefined) return;
  parent.__k.__m = pageIds;
  pageIds = undefined;
}

function restoreType(vnode: object | undefined): void {
  if (vnode === undefined || vnode !== standingVnode) return;
  standingVnode.type = standingView;
  standingVnode = standingView = undefined;
}

function standInFor(view: View, note: NoteRender) {
  let standIn = standIns.get(view);
  if (!standIn) {
    standIn = function (this: RenderedComponent, props: Record<string, unknown>, context: object): unknown {
      // The renderer has read the type already: the vnode is the app's again, whatever happens below.
      restoreType(this.__v);
      if (this[RENDERED_IN_PLACE]) return renderInPlace(view, this, props, context);
      const root = idRootOf(this.__v);
      const html = root && renderApart(view, props, context, (root.__m ??= [0, 0]));
      if (!html) return renderInPlace(view, this, props, context);
      notedVnode = this.__v;
      note(view, { ...props }, html.alone ? html.markup : undefined);
      // A renderer without `tpl` (the pretty one) renders the children instead: the view, in place.
      return h(Fragment, { tpl: [html.markup], exprs: [] } as never, inPlaceVnode(view, props));
    };
    Object.defineProperty(standIn, "displayName", { value: `RenderedOnce(${view.displayName ?? view.name ?? "view"})` });
    standIns.set(view, standIn);
  }
  return standIn;
}

/** The view rendered where it stands, as without the recorder: a function view as the app vnode's component, as preact-render-to-string calls one. */
function renderInPlace(view: View, component: RenderedComponent, props: Record<string, unknown>, context: object): unknown {
  const vnode = component.__v;
  if (!vnode || typeof (view as { prototype?: { render?: unknown } }).prototype?.render === "function") return inPlaceVnode(view, props);
  const root = knownRootOutsideSvgOrSelect(vnode);
  if (root) (root[IN_PLACE_HERE] ??= new Set()).add(vnode);
  component[RENDERED_IN_PLACE] = true;
  // As the renderer makes (its context: what useContext reads) and calls it. The render hook
  // (`_render`) again, as the separate render left preact/hooks on a component of its own: the
  // live `options.__r`, which is the one the renderer captured unless hooks were reinstalled
  // while a render was suspended.
  component.context = contextOf(view, context as Record<string, { props: { value: unknown } }>);
  (options as unknown as { __r?: (vnode: RenderedVNode) => void }).__r?.(vnode);
  return (view as (this: object, props: Record<string, unknown>, context: unknown) => unknown).call(component, props, component.context);
}

/** A function's context as preact-render-to-string gives it: its `contextType`'s value (the provider's, else the default), else the context map. */
function contextOf(view: View, context: Record<string, { props: { value: unknown } }>): unknown {
  const type = (view as { contextType?: { __c: string; __: unknown } }).contextType;
  const provider = type && context[type.__c];
  return type == null ? context : provider ? provider.props.value : type.__;
}

function inPlaceVnode(view: View, props: Record<string, unknown>): VNode {
  const itself = h(view as never, props);
  (itself as unknown as RenderedVNode)[IN_PLACE] = true;
  return itself;
}

/**
 * The view's markup rendered apart, continuing the page's ids; undefined when
 * that threw (the ids it took are given back: in place it takes them again).
 * `alone`: it is also what the view renders alone (no providers above, no ids taken before).
 */
function renderApart(view: View, props: Record<string, unknown>, context: object, ids: [number, number]) {
  const [ids0, ids1] = ids;
  pageIds = ids;
  standInDepth++;
  try {
    const own = h(view as never, props);
    apartVnode = own;
    const markup = renderToString(own, context);
    return { markup, alone: markup !== "" && ids0 === 0 && ids1 === 0 && isEmpty(context) };
  } catch {
    // Not lost: the view renders in place next, where a suspension is handled and an error surfaces as without the recorder.
    renderedInPlace.count++;
    ids[0] = ids0;
    ids[1] = ids1;
    return undefined;
  } finally {
    standInDepth--;
    pageIds = undefined;
    apartVnode = undefined;
  }
}

/**
 * Where useId keeps the counter for `vnode` (preact/hooks: the nearest vnode up
 * with one, else the render's root), or undefined when it is not a rendered vnode.
 */
function idRootOf(vnode: RenderedVNode | undefined): RenderedVNode | undefined {
  if (!vnode || vnode.__ === undefined) return undefined;
  let node = vnode;
  while (!node.__m && node.__) node = node.__;
  return node;
}

/** The root of `vnode`'s render when that began through the root hook and `vnode` is not inside <svg> or <select> (the renderer's modes); else undefined. */
function knownRootOutsideSvgOrSelect(vnode: RenderedVNode): RenderedVNode | undefined {
  let node = vnode;
  while (node.__) {
    node = node.__;
    if (node.type === "svg" || node.type === "select") return undefined;
  }
  return node[KNOWN_ROOT] === true ? node : undefined;
}

function isEmpty(context: object): boolean {
  for (const _ in context) return false;
  return true;
}
