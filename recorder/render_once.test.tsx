/**
 * An attached Preact view is rendered once (recorder/render_once.ts): the
 * markup its frame's hash covers comes from the handler's own render, not from
 * rendering the view again after the response. Each test counts the view's
 * renders, and compares every page served with the recorder against the same
 * page rendered outside any request (where nothing is substituted): the bytes
 * served must not change, whatever is around the view.
 */

import { Hono } from "hono";
import { jsx } from "hono/jsx";
import { Component, type ComponentChildren, createContext, options } from "preact";
import { useContext, useId, useState } from "preact/hooks";
import { renderToString, renderToStringAsync } from "preact-render-to-string";
import { render as renderPretty } from "preact-render-to-string/jsx";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, memoryStorage, type Replay } from "../mod.ts";
import { renderedInPlace } from "./render_once.ts";

let renders = 0;
const Theme = createContext("plain");

function Counter(props: { n: number; label?: string }) {
  renders++;
  const id = useId();
  const theme = useContext(Theme);
  return (
    <main class={theme}>
      <label for={id}>{props.label ?? "count"}</label>
      <output id={id}>{props.n}</output>
    </main>
  );
}

/** Renders differently inside <svg> (attribute names) and inside <select value> (selected): rendered in place there. */
function Icon(props: { n: number }) {
  renders++;
  return <circle strokeWidth={2} r={props.n} />;
}
function Choice(props: { n: number }) {
  renders++;
  return <option value={String(props.n)}>{props.n}</option>;
}

/** Suspends once per key under renderToStringAsync, then renders. */
const resolved = new Set<string>();
function Suspends(props: { at: string }) {
  if (!resolved.has(props.at)) throw new Promise<void>((resolve) => setTimeout(() => (resolved.add(props.at), resolve()), 1));
  return <i>loaded</i>;
}
/** Takes an id, then a child suspends: the page's next id must not move. */
function Form(props: { n: number; at: string }) {
  renders++;
  return <form><label for={useId()}>{props.n}</label><Suspends at={props.at} /></form>;
}
const AfterIt = () => <input id={useId()} />;

function Shell(props: { children: ComponentChildren; ids?: boolean }) {
  // A component before the view that takes an id: the view's ids continue after it, in place.
  const Badge = () => <span id={useId()}>beta</span>;
  return (
    <body>
      <header>app {props.ids ? <Badge /> : null}</header>
      {props.children}
    </body>
  );
}

/** Page shapes a handler may serve, each with the view somewhere inside. */
const PAGES: Record<string, (n: number) => Promise<string> | string> = {
  "under a layout, after a doctype": (n) => "<!doctype html>" + renderToString(<Shell><Counter n={n} /></Shell>),
  "alone": (n) => renderToString(<Counter n={n} />),
  "under a provider of a context it reads": (n) => renderToString(<Theme.Provider value="dark"><Shell><Counter n={n} /></Shell></Theme.Provider>),
  "after a component that took an id": (n) => renderToString(<Shell ids><Counter n={n} /></Shell>),
  "inside <svg>": (n) => renderToString(<svg><g><Icon n={n} /></g></svg>),
  "inside <select value>": (n) => renderToString(<select value="1"><Choice n={n} /></select>),
  "rendered by renderToStringAsync": (n) => renderToStringAsync(<Shell><Counter n={n} /></Shell>),
  "rendered by the pretty renderer (no tpl)": (n) => renderPretty(<Shell ids><Counter n={n} /><AfterIt /></Shell>),
};
/** Pages whose view renders once a request; the others render it again, alone, after the response (or in place). */
const ONCE = ["under a layout, after a doctype", "alone", "rendered by renderToStringAsync"];

function app(replay: Replay, page: (n: number) => Promise<string> | string) {
  const app = new Hono();
  app.use(replay.recorder());
  let n = 0;
  app.get("/", async (c) => c.html(await page(n)));
  app.post("/", async (c) => c.html(await page(++n)));
  return app;
}

/** Serves the page three times in one session; returns what was served and the recording. */
async function session(page: (n: number) => Promise<string> | string, views: Record<string, unknown> = { Counter, Icon, Choice, Form }) {
  const replay = createReplay({ views: views as never, storage: memoryStorage(), worker: false });
  try {
    const served: string[] = [];
    const pages = app(replay, page);
    const first = await pages.request("/");
    served.push(await first.text());
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    for (let i = 0; i < 2; i++) served.push(await (await pages.request("/", { method: "POST", headers: { cookie } })).text());
    await replay.close();
    const [recording] = await replay.store.listRecordings();
    return { served, player: recording && replay.player(recording), errors: replay.engine.recorderErrors };
  } finally {
    await replay.close();
  }
}

for (const [shape, page] of Object.entries(PAGES)) {
  test(`a view ${shape}: served as without the recorder, recorded, replayed`, async () => {
    // Outside any request nothing is substituted: this is the page as the app serves it without hono-replay.
    const expected = [await page(0), await page(1), await page(2)];
    assert.match(expected[0], /<output|<circle|<option/, "control: the page holds the view");
    renders = 0;
    const { served, player } = await session(page);
    const rendersServing = renders;
    assert.equal(served, expected, "the bytes served do not change");
    assert.is(player.frameCount, 3, "one frame per page");
    if (ONCE.includes(shape)) {
      assert.is(rendersServing, 3, "rendered once a request: the frame's markup came from the handler's render");
      assert.equal(player.fidelity().differing, [], "and every frame replays byte-identical");
      for (let i = 0; i < 3; i++) assert.ok(served[i].includes(player.renderFrame(i).html), `frame ${i} is in the page`);
    } else {
      assert.is(rendersServing, 6, "control: rendered in the page, then alone for the hash");
    }
  });
}

test("where the markup would differ from the view rendered alone, fidelity says so rather than hiding it", async () => {
  const { player } = await session(PAGES["after a component that took an id"]);
  // Alone its ids start from the first: not what the page served.
  assert.equal(player.fidelity().differing, [0, 1, 2]);
});

test("a view that takes an id and then suspends: the ids after it do not move", async () => {
  const page = (at: string) => renderToStringAsync(<body><Form n={1} at={at} /><AfterIt /></body>);
  const expected = await page("reference");
  assert.match(expected, /<input id="P0-1"\/>/, "control: the id after the view");
  const before = renderedInPlace.count;
  const { served } = await session(() => page("recorded"));
  assert.equal(served[0], expected);
  assert.ok(renderedInPlace.count > before, "its separate render threw (it suspended), so it rendered in place");
});

test("under error boundaries, a view that takes an id and throws: the fallback page is the same", async () => {
  class Boundary extends Component<{ children: ComponentChildren }, { failed?: boolean }> {
    static getDerivedStateFromError() {
      return { failed: true };
    }
    render() {
      return this.state.failed ? <b>fallback</b> : this.props.children;
    }
  }
  function Fails(): null {
    useId();
    throw new Error("boom");
  }
  const hooks = options as { errorBoundaries?: boolean };
  hooks.errorBoundaries = true;
  try {
    const page = () => renderToString(<body><Boundary><Fails /></Boundary><AfterIt /></body>);
    const expected = page();
    assert.match(expected, /<b>fallback<\/b><input id="P0-1"\/>/, "control: the boundary caught it");
    const { served } = await session(page, { Fails });
    assert.equal(served[0], expected);
  } finally {
    hooks.errorBoundaries = false;
  }
});

test("registered views inside a view that reads a provided context: the inner one is the frame, byte-identical", async () => {
  const Inner = (props: { n: number }) => <p>inner {props.n}</p>;
  const Outer = (props: { n: number }) => <main class={useContext(Theme)}><Inner n={props.n} /></main>;
  const page = (n: number) => renderToString(<Theme.Provider value="dark"><Outer n={n} /></Theme.Provider>);
  const { served, player } = await session(page, { Outer, Inner });
  assert.equal(served, [page(0), page(1), page(2)]);
  assert.is(player.recording.view, "Inner", "the outer view's markup is not its markup alone: the next view in is recorded");
  assert.equal(player.fidelity().differing, []);
});

test("a hono/jsx view registered as a Preact one is still reported, not stored with empty markup", async () => {
  const HonoView = (props: { n: number }) => jsx("p", null, `hono ${props.n}`);
  const Misregistered = HonoView as unknown as (props: { n: number }) => null;
  const { errors } = await session((n) => renderToString(<body><Misregistered n={n} /></body>), { HonoView });
  assert.ok(errors > 0, "the recorder reports it (register it with honoView)");
});

test("a view that suspends under renderToStringAsync renders in place, as without the recorder, counted", async () => {
  let ready = false;
  const pending = new Promise<void>((resolve) => setTimeout(() => ((ready = true), resolve()), 1));
  function Slow(props: { n: number }) {
    if (!ready) throw pending;
    return <p>slow {props.n}</p>;
  }
  const replay = createReplay({ views: { Slow }, storage: memoryStorage(), worker: false });
  try {
    const served = new Hono();
    served.use(replay.recorder());
    served.get("/", async (c) => c.html(await renderToStringAsync(<Shell><Slow n={7} /></Shell>)));
    const before = renderedInPlace.count;
    const body = await (await served.request("/")).text();
    // The renderer marks where it suspended (<!--$s-->), as it does without the recorder.
    assert.match(body, /^<body><header>app <\/header>(<!--\$s-->)?<p>slow 7<\/p>(<!--\/\$s-->)?<\/body>$/);
    assert.is(renderedInPlace.count, before + 1, "its separate render threw (it suspended), so it rendered in place");
  } finally {
    await replay.close();
  }
});

test("a view that suspends several times under renderToStringAsync: the page served is the page without the recorder", async () => {
  const pending = new Map<string, number>();
  function Flaky(props: { at: string }) {
    renders++;
    const tries = pending.get(props.at) ?? 0;
    // A new promise on each of the first three tries: the renderer renders the same vnode again after each.
    if (tries < 3) {
      pending.set(props.at, tries + 1);
      throw new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
    return <p id={useId()}>flaky {props.at}</p>;
  }
  const page = (at: string) => renderToStringAsync(<Shell><Flaky at={at} /></Shell>);
  renders = 0;
  const expected = await page("outside");
  const rendersWithout = renders;
  assert.match(expected, /flaky outside/, "control: it rendered");
  const replay = createReplay({ views: { Flaky }, storage: memoryStorage(), worker: false });
  try {
    const served = new Hono();
    served.use(replay.recorder());
    served.get("/", async (c) => c.html(await page("outside")));
    pending.clear();
    renders = 0;
    const before = renderedInPlace.count;
    const body = await (await served.request("/")).text();
    assert.is(body, expected, "no stand-in level per suspension");
    assert.is(renders, rendersWithout + 1, "as without the recorder, and once apart (which suspended)");
    assert.is(renderedInPlace.count, before + 1, "its separate render threw once; the retries render in place");
  } finally {
    await replay.close();
  }
});

test("a view that takes an id and then suspends itself, a sibling taking an id after it: the ids do not swap", async () => {
  const done = new Set<string>();
  function TakesThenSuspends(props: { at: string }) {
    const id = useId();
    if (!done.has(props.at)) throw new Promise<void>((resolve) => setTimeout(() => (done.add(props.at), resolve()), 1));
    return <label for={id}>{props.at}</label>;
  }
  const page = (at: string) => renderToStringAsync(<Shell><TakesThenSuspends at={at} /><AfterIt /></Shell>);
  const expected = await page("same");
  assert.match(expected, /<label for="P0-1">.*<input id="P0-2"\/>/, "control: without the recorder the view's id comes before its sibling's");
  done.clear();
  const { served } = await session(() => page("same"), { TakesThenSuspends });
  assert.equal(served[0], expected);
});

/** A context read in the tests below, provided around the view and again inside it. */
const Place = createContext("default");

test("a view under a provider whose separate render throws (a child suspends inside another provider): it reads its own provider's value", async () => {
  function Reads(props: { at: string }) {
    const place = useContext(Place);
    return <section class={place}><Place.Provider value="inner"><Suspends at={props.at} /></Place.Provider></section>;
  }
  const page = (at: string) => renderToStringAsync(<Place.Provider value="page"><Shell><Reads at={at} /></Shell></Place.Provider>);
  const expected = [await page("place-control"), await page("place-control"), await page("place-control")];
  assert.match(expected[0], /<section class="page">/, "control: without the recorder the view reads the provider above it");
  const before = renderedInPlace.count;
  const { served } = await session(() => page("place-recorded"), { Reads });
  assert.equal(served, expected);
  assert.ok(renderedInPlace.count > before, "its separate render threw (a child suspended), so it rendered in place");
});

test("a view that keeps state, its class child throwing as it is made: the error is the app's own, as without the recorder", async () => {
  class Broken extends Component {
    constructor() {
      super();
      throw new Error("app's own");
    }
    render() {
      return null;
    }
  }
  function Keeps() {
    const [n] = useState(1);
    return <form>{n}<Broken /></form>;
  }
  const page = () => renderToString(<Shell><Keeps /></Shell>);
  assert.throws(page, (error: Error) => error.message === "app's own", "control: without the recorder the render fails with the app's error");
  const replay = createReplay({ views: { Keeps }, storage: memoryStorage(), worker: false });
  try {
    const served = new Hono();
    served.use(replay.recorder());
    let failure: unknown;
    served.onError((error, c) => ((failure = error), c.text("failed", 500)));
    served.get("/", (c) => c.html(page()));
    const before = renderedInPlace.count;
    assert.is((await served.request("/")).status, 500);
    assert.instance(failure, Error);
    assert.is((failure as Error).message, "app's own");
    assert.is(renderedInPlace.count, before + 1, "its separate render threw, so it rendered in place and threw there");
  } finally {
    await replay.close();
  }
});

test("a function view with a contextType whose separate render throws: it gets the context's value, its hooks the context a function gets", async () => {
  function Typed(props: { at: string }, place: string) {
    // As without the recorder: preact-render-to-string gives a function with a contextType that value as its component's context too.
    const theme = useContext(Theme);
    return <section class={place} data-theme={theme}><Suspends at={props.at} /></section>;
  }
  (Typed as { contextType?: unknown }).contextType = Place;
  const page = (at: string) =>
    renderToStringAsync(<Theme.Provider value="dark"><Place.Provider value="page"><Shell><Typed at={at} /></Shell></Place.Provider></Theme.Provider>);
  const expected = [await page("typed-control"), await page("typed-control"), await page("typed-control")];
  assert.match(expected[0], /<section class="page" data-theme="plain">/, "control: the value, and hooks that read no provider");
  const before = renderedInPlace.count;
  const { served } = await session(() => page("typed-recorded"), { Typed });
  assert.equal(served, expected);
  assert.ok(renderedInPlace.count > before, "its separate render threw (a child suspended), so it rendered in place");
});

test("an element the app keeps and serves on every request stays its own: rendered once each time, its type the view's", async () => {
  const kept = <Counter n={5} />;
  const page = () => renderToString(<Shell>{kept}</Shell>);
  const expected = page();
  renders = 0;
  const { served, player } = await session(page);
  assert.equal(served, [expected, expected, expected], "the bytes served do not change");
  assert.is(renders, 3, "rendered once a request, the same element each time");
  assert.is(kept.type, Counter, "the element's type is the view again after each render");
  assert.is(player.frameCount, 3);
  assert.equal(player.fidelity().differing, []);
});

test("an element the app keeps whose separate render threw once: later requests render it once again", async () => {
  let fail = true;
  function Flaky() {
    renders++;
    if (fail) throw new Error("transient");
    return <p>steady</p>;
  }
  class Boundary extends Component<{ children: ComponentChildren }, { failed?: boolean }> {
    static getDerivedStateFromError() {
      return { failed: true };
    }
    render() {
      return this.state.failed ? <b>fallback</b> : this.props.children;
    }
  }
  const kept = <Flaky />;
  const boundaries = options as { errorBoundaries?: boolean };
  boundaries.errorBoundaries = true;
  const replay = createReplay({ views: { Flaky }, storage: memoryStorage(), worker: false });
  try {
    const served = new Hono();
    served.use(replay.recorder());
    served.get("/", (c) => c.html(renderToString(<body><Boundary>{kept}</Boundary></body>)));
    const before = renderedInPlace.count;
    assert.match(await (await served.request("/")).text(), /fallback/, "control: the first request failed, and the boundary caught it");
    assert.is(renderedInPlace.count, before + 1, "control: its separate render threw, so it rendered in place");
    fail = false;
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      renders = 0;
      assert.match(await (await served.request("/")).text(), /<p>steady<\/p>/);
      counts.push(renders);
    }
    assert.equal(counts, [1, 1, 1], "rendered once a request, not in place and again alone");
  } finally {
    boundaries.errorBoundaries = false;
    await replay.close();
  }
});

test("a view that updates its state as it renders, a child suspending: its separate render is tried once, not on every pass", async () => {
  let viewRenders = 0;
  function Settles(props: { at: string }) {
    viewRenders++;
    const [n, setN] = useState(0);
    if (n < 2) setN(n + 1);
    return <p id={useId()} data-n={n}><Suspends at={props.at} /></p>;
  }
  const page = (at: string) => renderToStringAsync(<Shell><Settles at={at} /><AfterIt /></Shell>);
  viewRenders = 0;
  const expected = await page("settles-control");
  assert.ok(viewRenders > 1, `control: the renderer calls it again after each update (${viewRenders})`);
  const before = renderedInPlace.count;
  const { served } = await session(() => page("settles-recorded"), { Settles });
  assert.equal(served[0], expected);
  assert.is(renderedInPlace.count, before + 1, "one separate render threw, on the first request; every later pass rendered in place");
});

test.run();
