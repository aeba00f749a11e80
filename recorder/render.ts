/**
 * View + props → HTML. The recorder's `render` (what is served and hashed) and
 * the `Player` (what is replayed) both call `renderView`, and nothing else
 * renders a view: record and replay cannot render differently.
 *
 * Two renderers, chosen by the view itself:
 * - **Preact** (the default): `preact-render-to-string` of `h(View, props)`.
 * - **hono/jsx**, for a view marked with `honoView(View)`: `jsx(View, props).toString()`,
 *   the same string `c.html(<View {...props} />)` would serve.
 *
 * Why an explicit mark and not auto-detection. The only way to see what a
 * component returns is to call it, and a Preact function component called as a
 * plain function, outside Preact's render, has no current component: its hooks
 * throw, or write into whichever component rendered last. Nor can the types
 * tell: Preact's `ComponentChild` includes `object`, so a hono/jsx component is a
 * valid Preact `ComponentType` too. So a hono/jsx view says so, once, where it
 * is registered: `views: { TodoPage: honoView(TodoPage) }`. The mark is a
 * `Symbol.for` property on the function itself (like `displayName`), so the
 * function you register is the one you pass to `render()`, and a second copy of
 * this module (source and built package in one process) still sees it.
 *
 * Forgetting the mark on a view is an error, not a blank page: Preact renders
 * a hono/jsx node as "" (it is not a VNode). When a Preact render comes out
 * empty, the view is rendered once more through a probe that sees what it
 * returned — still inside Preact's render, so hooks work — and hono/jsx output
 * is a ReplayError saying to use `honoView`. A non-empty render costs nothing
 * extra. Only the view's own output is probed: a hono/jsx component nested
 * inside a Preact view renders as nothing, as Preact renders it (views do not
 * mix the two). The reverse mistake (a Preact component marked with
 * `honoView`) is a ReplayError when it returns a Preact VNode.
 *
 * Synchronous only. `Player.renderFrame` is synchronous (the dashboard renders
 * frames in batches), and a view replays only if it is a pure function of its
 * props: a component that awaits data while rendering is neither. A hono/jsx
 * view whose render is asynchronous (an async component, `Suspense`, a Promise
 * child) is a ReplayError, the same when recording as when replaying; load the
 * data in the handler and pass it as props.
 *
 * Whole documents: `renderView` returns the markup as the view renders it; the
 * recorder adds `<!DOCTYPE html>` to what it serves when that starts with
 * `<html` (see `withDoctype`), and the stored hash is of the markup without it.
 */

import { type FC, jsx } from "hono/jsx";
import { type ComponentType, h, isValidElement as isPreactElement } from "preact";
import { renderToString } from "preact-render-to-string";
import { ReplayError } from "../format/mod.ts";

/** A hono/jsx function component. */
// deno-lint-ignore no-explicit-any
export type HonoComponent<P = any> = FC<P>;

/** A view: a Preact component, or a hono/jsx component marked with `honoView`. */
// deno-lint-ignore no-explicit-any
export type View = ComponentType<any> | HonoComponent<any>;

/**
 * The props a view takes: the type of its first parameter (function component)
 * or of its constructor's (class component). `render(view, props)` checks props
 * against this, so literal unions (`filter: "all" | "done"`) need no `as const`.
 */
// deno-lint-ignore no-explicit-any
export type PropsOf<V> = V extends abstract new (props: infer P, ...rest: any[]) => any ? P
  // deno-lint-ignore no-explicit-any
  : V extends (props: infer P, ...rest: any[]) => any ? P
  : never;

/** Which renderer a view uses. */
export type Renderer = "preact" | "hono/jsx";

const RENDERER: unique symbol = Symbol.for("hono-replay.renderer") as never;

/**
 * Marks a hono/jsx function component as a view rendered by hono/jsx, and
 * returns it (the same function, so register and render the same value):
 *
 * ```tsx
 * createReplay({ views: { TodoPage: honoView(TodoPage) } });
 * app.get("/todos", (c) => c.var.replay.render(TodoPage, { todos, filter: "all" }));
 * ```
 */
export function honoView<C extends HonoComponent>(component: C): C {
  if (typeof component !== "function") {
    throw new ReplayError(`honoView: expected a hono/jsx function component, got ${describe(component)}`);
  }
  if (isClass(component)) {
    throw new ReplayError(
      `honoView: ${nameOf(component)} is a class component; hono/jsx views are functions. Register a Preact class component without honoView().`,
    );
  }
  if ((component as Marked)[RENDERER] === "hono/jsx") return component;
  if (!Object.isExtensible(component)) {
    throw new ReplayError(`honoView: ${nameOf(component)} is frozen, so it cannot be marked; pass an unfrozen function (e.g. (props) => ${nameOf(component)}(props)).`);
  }
  Object.defineProperty(component, RENDERER, { value: "hono/jsx", enumerable: false, configurable: false, writable: false });
  return component;
}

/** "hono/jsx" for a view marked with `honoView`, else "preact". */
export function rendererOf(view: View): Renderer {
  return (view as Marked)[RENDERER] === "hono/jsx" ? "hono/jsx" : "preact";
}

/** The HTML of `view` with `props`, synchronously. Throws a ReplayError for an asynchronous or mis-declared view. */
export function renderView(view: View, props: object): string {
  return rendererOf(view) === "hono/jsx" ? renderHono(view as HonoComponent, props) : renderPreact(view as ComponentType, props);
}

/** What the recorder serves: a whole document (starting with `<html`) gets `<!DOCTYPE html>` in front. */
export function withDoctype(html: string): string {
  return /^\s*<html[\s>]/i.test(html) ? "<!DOCTYPE html>" + html : html;
}

function renderPreact(view: ComponentType, props: object): string {
  const html = renderToString(h(view, props));
  if (html === "" && !isClass(view)) probePreactRender(view as (props: object, context?: unknown) => unknown, props);
  return html;
}

/**
 * An empty Preact render: renders again through a function component that
 * calls the view as Preact would have (same `this`, props and context, inside
 * Preact's render) and looks at what it returned.
 */
function probePreactRender(view: (props: object, context?: unknown) => unknown, props: object): void {
  let returned: unknown;
  function Probe(this: unknown, p: object, context: unknown) {
    returned = view.call(this, p, context);
    return returned;
  }
  Object.assign(Probe, { contextType: (view as { contextType?: unknown }).contextType, defaultProps: (view as { defaultProps?: unknown }).defaultProps });
  renderToString(h(Probe as ComponentType, props));
  if (returned instanceof Promise) {
    throw new ReplayError(
      `hono-replay: view ${nameOf(view)} returned a Promise, which renders as "". Recorded views must render synchronously: ` +
        `load the data in the handler and pass it as props.`,
    );
  }
  if (isHonoOutput(returned)) {
    throw new ReplayError(
      `hono-replay: view ${nameOf(view)} returned hono/jsx output, which Preact renders as "". ` +
        `Register it as a hono/jsx view: createReplay({ views: { ${nameOf(view)}: honoView(${nameOf(view)}) } }) (honoView is exported by hono-replay).`,
    );
  }
}

function renderHono(view: HonoComponent, props: object): string {
  // hono's jsx() deletes `key` and sets `children` on the object it is given: a copy.
  const node = jsx(function checked(p: object) {
    const out = view(p);
    if (isPreactElement(out)) {
      throw new ReplayError(
        `hono-replay: view ${nameOf(view)} is marked with honoView() but returned a Preact element; remove honoView() to render it with Preact.`,
      );
    }
    return out;
  }, { ...props });
  const html = node.toString();
  if (typeof html === "string") return html;
  // The render already started: its outcome no longer matters, since this render
  // is refused below. Observing it keeps a later rejection from being unhandled.
  html.then(undefined, () => undefined);
  throw new ReplayError(
    `hono-replay: view ${nameOf(view)} renders asynchronously (an async component, Suspense or a Promise child). ` +
      `Recorded views must render synchronously so that replay renders the same frame: load the data in the handler and pass it as props.`,
  );
}

type Marked = { [RENDERER]?: Renderer };

function isHonoOutput(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { isEscaped?: unknown }).isEscaped === true;
}

function isClass(view: unknown): boolean {
  const proto = (view as { prototype?: { render?: unknown } }).prototype;
  return typeof proto?.render === "function";
}

function nameOf(view: unknown): string {
  const v = view as { displayName?: string; name?: string };
  return v.displayName || v.name || "(anonymous)";
}

function describe(value: unknown): string {
  return value === null ? "null" : typeof value;
}
