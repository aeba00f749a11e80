/**
 * Recording without changing handlers (recorder/attach.ts): with only
 * `app.use(replay.recorder())`, pages rendered by `c.html(renderToString(…))`
 * (Preact) and `c.render(<View />)` under a jsxRenderer layout (hono/jsx) are
 * recorded like `c.var.replay.render`, and replay byte-identical to what the
 * recorded hash covers: the whole page for Preact, the view's own markup —
 * a verbatim slice of the page — under a layout. Concurrent requests never mix
 * their views; renders outside a request, or after it answered, are not recorded.
 */

import { Hono } from "hono";
import { jsx } from "hono/jsx";
import { jsxRenderer } from "hono/jsx-renderer";
import type { ComponentChildren } from "preact";
import { renderToString } from "preact-render-to-string";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, honoView, memoryStorage, type Recording, type Replay } from "../mod.ts";
import { heldRenders } from "./attach.ts";
import { DemoLayout, PostBody, SignupBody, TodoBody } from "../examples/demo/hono_views.tsx";
import { signupProps } from "../examples/demo/signup.ts";
import { type Post, PostIndex, type PostProps, SignupForm, type SignupProps, TodoList, type TodoProps } from "../examples/demo/views.tsx";

class Browser {
  cookie = "";
  constructor(private readonly app: Hono) {}

  async fetch(path: string, init: { method?: string; body?: BodyInit; headers?: Record<string, string> } = {}) {
    const res = await this.app.request(path, { ...init, headers: { ...init.headers, ...(this.cookie ? { cookie: this.cookie } : {}) } });
    const set = res.headers.get("set-cookie")?.match(/hono_replay=[^;]+/)?.[0];
    if (set) this.cookie = set;
    return { status: res.status, body: await res.text(), type: res.headers.get("content-type") ?? "" };
  }
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const TAGS = ["hono", "preact"];
const POSTS: Post[] = [
  { id: 1, title: "Islands <without> the ocean", tag: "hono", published: new Date(Date.UTC(2026, 0, 1)) },
  { id: 2, title: "Assigns are all you need", tag: "preact", published: new Date(Date.UTC(2026, 0, 4)) },
  { id: 3, title: "日本語 & \"quotes\"", tag: "hono", published: new Date(Date.UTC(2026, 0, 7)) },
];
const todos: TodoProps["todos"] = [{ id: 1, title: "Write <tests>", done: false }, { id: 2, title: "Ship", done: true }];

function postProps(c: { req: { query(k: string): string | undefined } }): PostProps {
  const tag = c.req.query("tag") ?? "";
  return { posts: POSTS.filter((p) => !tag || p.tag === tag), q: "", tag, tags: TAGS, total: POSTS.length };
}
function todoProps(c: { req: { query(k: string): string | undefined } }): TodoProps {
  const filter = (["open", "done"] as const).find((f) => f === c.req.query("filter")) ?? "all";
  return { todos, filter };
}

type Way = "explicit" | "preact c.html(renderToString)" | "hono/jsx c.render under jsxRenderer";

/** The demo's three views served one way; every handler but the explicit ones is what a Hono app has without hono-replay. */
function demoApp(way: Way) {
  const hono = way === "hono/jsx c.render under jsxRenderer";
  const views = hono
    ? { SignupForm: honoView(SignupBody), TodoList: honoView(TodoBody), PostIndex: honoView(PostBody) }
    : { SignupForm, TodoList, PostIndex };
  const replay = createReplay({ views, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  let checks = 0;
  const signup = (body: Record<string, unknown>): SignupProps => signupProps(body, false, checks);
  if (way === "explicit") {
    app.get("/signup", (c) => c.var.replay.render(SignupForm, signup({})));
    app.post("/signup/validate", async (c) => (checks++, c.var.replay.render(SignupForm, signup(await c.req.parseBody()))));
    app.get("/todos", (c) => c.var.replay.render(TodoList, todoProps(c)));
    app.get("/posts", (c) => c.var.replay.render(PostIndex, postProps(c)));
  } else if (way === "preact c.html(renderToString)") {
    app.get("/signup", (c) => c.html(renderToString(<SignupForm {...signup({})} />)));
    app.post("/signup/validate", async (c) => (checks++, c.html(renderToString(<SignupForm {...signup(await c.req.parseBody())} />))));
    app.get("/todos", (c) => c.html(renderToString(<TodoList {...todoProps(c)} />)));
    app.get("/posts", (c) => c.html(renderToString(<PostIndex {...postProps(c)} />)));
  } else {
    // What `<SignupBody {...p} />` compiles to in a hono/jsx file. (`c.render` is typed for
    // strings until an app declares its ContextRenderer, as jsxRenderer's docs show: `page` casts.)
    const page = (node: unknown) => node as string;
    app.use("*", jsxRenderer(({ children }) => jsx(DemoLayout, {}, children)));
    app.get("/signup", (c) => c.render(page(jsx(SignupBody, signup({})))));
    app.post("/signup/validate", async (c) => (checks++, c.render(page(jsx(SignupBody, signup(await c.req.parseBody()))))));
    app.get("/todos", (c) => c.render(page(jsx(TodoBody, todoProps(c)))));
    app.get("/posts", (c) => c.render(page(jsx(PostBody, postProps(c)))));
  }
  return { app, replay };
}

async function recordings(replay: Replay): Promise<Recording[]> {
  await replay.flush();
  await replay.close();
  return await replay.store.listRecordings({ sort: "startedAt", order: "asc" });
}

for (const way of ["explicit", "preact c.html(renderToString)", "hono/jsx c.render under jsxRenderer"] as const) {
  test(`the demo's three views, ${way}: recorded with their props and replayed byte-identical`, async () => {
    const { app, replay } = demoApp(way);
    try {
      const browser = new Browser(app);
      const served: Record<string, string[]> = { SignupForm: [], TodoList: [], PostIndex: [] };
      const visit = async (view: string, path: string, init?: { method?: string; body?: BodyInit }) => {
        const res = await browser.fetch(path, init);
        assert.is(res.status, 200, `${path}: ${res.body}`);
        assert.match(res.type, /^text\/html/);
        served[view].push(res.body);
      };
      await visit("SignupForm", "/signup");
      for (const name of ["A", "Ad", "Ada"]) {
        await visit("SignupForm", "/signup/validate", { method: "POST", body: new URLSearchParams({ name, email: "ada@example.com", password: "x" }) });
      }
      await visit("TodoList", "/todos");
      await visit("PostIndex", "/posts");
      await visit("TodoList", "/todos?filter=done");
      await visit("PostIndex", "/posts?tag=hono");

      const saved = await recordings(replay);
      assert.equal(saved.map((r) => r.view).sort(), ["PostIndex", "SignupForm", "TodoList"]);
      assert.is(replay.engine.recorderErrors, 0);
      for (const recording of saved) {
        const player = replay.player(recording);
        const bodies = served[recording.view];
        assert.is(player.frameCount, bodies.length, `${recording.view}: one frame per page served, none twice`);
        for (let i = 0; i < bodies.length; i++) {
          const frame = player.renderFrame(i);
          assert.is(frame.identical, true, `${recording.view} frame ${i}: the stored hash agrees`);
          if (way === "explicit") assert.is("<!DOCTYPE html>" + frame.html, bodies[i]);
          else if (way === "preact c.html(renderToString)") assert.is(frame.html, bodies[i], "the whole page is the frame");
          else {
            // Under a layout, the frame is the view's markup: served verbatim inside the layout.
            assert.ok(bodies[i].startsWith("<!DOCTYPE html><html lang=\"en\"><head>"), bodies[i].slice(0, 80));
            assert.ok(bodies[i].includes(`<main>${frame.html}</main>`), `${recording.view} frame ${i} is the page's <main>`);
          }
        }
        assert.equal(player.fidelity().differing, []);
      }
      // The props recorded are those the handler rendered: the last keystroke's name, the filter.
      const signup = replay.player(saved.find((r) => r.view === "SignupForm")!);
      const last = signup.timeline.assignsOf(signup.frameCount - 1) as unknown as SignupProps;
      assert.equal(last.form, { name: "Ada", email: "ada@example.com" });
      const todo = replay.player(saved.find((r) => r.view === "TodoList")!);
      assert.is((todo.timeline.assignsOf(1) as unknown as TodoProps).filter, "done");
    } finally {
      await replay.close();
    }
  });
}

test("two concurrent requests rendering different views, awaits interleaved, are never mixed up", async () => {
  const replay = createReplay({ views: { TodoList, PostIndex, SignupForm }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  const aStarted = deferred(), bRendered = deferred(), aRendered = deferred();
  app.get("/a", async (c) => {
    aStarted.resolve();
    await bRendered.promise; // B has rendered PostIndex; A renders now, while B is still waiting
    const html = renderToString(<TodoList todos={todos} filter="open" />);
    aRendered.resolve();
    await Promise.resolve();
    return c.html(html);
  });
  app.get("/b", async (c) => {
    await aStarted.promise;
    const html = renderToString(<PostIndex {...postProps(c)} />);
    bRendered.resolve();
    await aRendered.promise; // A rendered TodoList after us and answers first
    return c.html("<!DOCTYPE html>" + html);
  });
  try {
    const first = new Browser(app), second = new Browser(app);
    const [a, b] = await Promise.all([first.fetch("/a"), second.fetch("/b?tag=preact")]);
    assert.ok(a.body.includes("Write &lt;tests") && !a.body.includes('id="posts"'), a.body.slice(0, 200));
    // A second request each, so the recordings are kept (one with only a mount is discarded).
    await first.fetch("/a");
    await second.fetch("/b?tag=preact");
    const saved = await recordings(replay);
    assert.equal(saved.map((r) => r.view).sort(), ["PostIndex", "TodoList"]);
    const todo = replay.player(saved.find((r) => r.view === "TodoList")!);
    const post = replay.player(saved.find((r) => r.view === "PostIndex")!);
    assert.is((todo.timeline.assignsOf(0) as unknown as TodoProps).filter, "open");
    assert.is((post.timeline.assignsOf(0) as unknown as PostProps).tag, "preact");
    assert.is(todo.renderFrame(0).html, a.body);
    assert.is("<!DOCTYPE html>" + post.renderFrame(0).html, b.body);
    assert.is(todo.renderFrame(0).identical, true);
    assert.is(post.renderFrame(0).identical, true);
    assert.not.equal(saved[0].sessionKey, saved[1].sessionKey, "two sessions");
  } finally {
    await replay.close();
  }
});

test("a render's props are kept only while an open request may still take them", async () => {
  const replay = createReplay({ views: { TodoList, PostIndex, SignupForm }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  // /hold: a recorded request that stays open (it renders no view) until released.
  let held = { started: deferred(), release: deferred() };
  app.get("/hold", async (c) => {
    held.started.resolve();
    await held.release.promise;
    return c.html("<p>no view</p>");
  });
  app.get("/a", (c) => c.html(renderToString(<TodoList todos={todos} filter="open" />)));
  const browser = new Browser(app);
  /** Starts /hold and resolves once it is in flight; the returned function ends it. */
  const hold = async () => {
    held = { started: deferred(), release: deferred() };
    const { release } = held;
    const pending = new Browser(app).fetch("/hold");
    await held.started.promise;
    return async () => {
      release.resolve();
      await pending;
    };
  };
  try {
    let end = await hold();
    for (let i = 0; i < 3; i++) await browser.fetch("/a");
    // Positive control: /hold started before these renders and may yet serve one of them: all three are held.
    assert.is(heldRenders(), 3);
    await end();
    assert.is(heldRenders(), 0, "nothing is in flight: nothing held");
    // Overlapping requests: /hold (1) is open for two renders, then /hold (2) starts, then (1) ends.
    const endFirst = await hold();
    await browser.fetch("/a");
    await browser.fetch("/a");
    assert.is(heldRenders(), 2);
    end = await hold();
    await endFirst();
    // No open request can take those two (the one still open started after them): they are let go.
    assert.is(heldRenders(), 0);
    await browser.fetch("/a");
    assert.is(heldRenders(), 1, "only the render after the open request started is held");
    await end();
    assert.is(heldRenders(), 0);
  } finally {
    await replay.close();
  }
});

test("with fidelity off, two overlapping requests rendering the same view with other props each record their own", async () => {
  const replay = createReplay({ views: { TodoList }, storage: memoryStorage(), worker: false, fidelity: false });
  const app = new Hono();
  app.use(replay.recorder());
  const openRendered = deferred(), doneRendered = deferred();
  app.get("/open", async (c) => {
    const html = renderToString(<TodoList todos={todos} filter="open" />);
    openRendered.resolve();
    await doneRendered.promise; // /done renders after us and before we answer: its view is the latest seen
    return c.html(html);
  });
  app.get("/done", async (c) => {
    await openRendered.promise;
    const html = renderToString(<TodoList todos={todos} filter="done" />);
    doneRendered.resolve();
    await Promise.resolve();
    return c.html(html);
  });
  app.get("/solo", (c) => c.html(renderToString(<TodoList todos={todos} filter={c.req.query("f") === "done" ? "done" : "open"} />)));
  try {
    const first = new Browser(app), second = new Browser(app);
    await Promise.all([first.fetch("/open"), second.fetch("/done")]);
    await first.fetch("/solo?f=open");
    await second.fetch("/solo?f=done");
    const saved = await recordings(replay);
    assert.is(saved.length, 2);
    for (const recording of saved) {
      const player = replay.player(recording);
      const filters = [0, 1].map((i) => (player.timeline.assignsOf(i) as unknown as TodoProps).filter);
      assert.is(filters[0], filters[1], `each session recorded its own props first, then the solo page: ${filters}`);
    }
    // Positive control: the two sessions did record different props.
    assert.equal(saved.map((r) => (replay.player(r).timeline.assignsOf(0) as unknown as TodoProps).filter).sort(), ["done", "open"]);
  } finally {
    await replay.close();
  }
});

test("overlapping requests whose view cannot be matched to the served page record nothing rather than guess", async () => {
  const replay = createReplay({ views: { TodoList }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  const aRendered = deferred(), bRendered = deferred();
  // The served page is not the view's markup (the handler rewrites it): no candidate verifies.
  app.get("/a", async (c) => {
    const html = renderToString(<TodoList todos={todos} filter="open" />).replace("<ul", "<ol");
    aRendered.resolve();
    await bRendered.promise;
    return c.html(html);
  });
  app.get("/b", async (c) => {
    await aRendered.promise;
    const html = renderToString(<TodoList todos={todos} filter="done" />).replace("<ul", "<ol");
    bRendered.resolve();
    return c.html(html);
  });
  app.get("/alone", (c) => c.html(renderToString(<TodoList todos={todos} filter="all" />).replace("<ul", "<ol")));
  try {
    await Promise.all([new Browser(app).fetch("/a"), new Browser(app).fetch("/b")]);
    assert.is(replay.engine.unservedRenders, 2, "both counted, neither recorded");
    // Positive control: alone, the same kind of page is recorded (with the whole body's hash).
    const alone = new Browser(app);
    await alone.fetch("/alone");
    await alone.fetch("/alone");
    assert.is(replay.engine.unservedRenders, 2);
    const saved = await recordings(replay);
    assert.equal(saved.map((r) => r.view), ["TodoList"]);
    assert.is(replay.player(saved[0]).frameCount, 2);
  } finally {
    await replay.close();
  }
});

// ------------------------------------------------ an app written as public Hono + Preact examples are

function Shell(props: { title: string; children: ComponentChildren }) {
  return <html><head><title>{props.title}</title></head><body>{props.children}</body></html>;
}
function Home(props: { greeting: string }) {
  return <Shell title="Home"><h1>{props.greeting}</h1></Shell>;
}
function Profile(props: { user: { name: string; joined: Date } }) {
  return <article><h2>{props.user.name}</h2><time>{props.user.joined.toISOString()}</time></article>;
}
function Badge(props: { n: number }) {
  return <span class="badge">{props.n}</span>;
}
/** Composes another registered view: the outer one is the frame. */
function Dashboard(props: { count: number }) {
  return <Shell title="Dashboard"><Badge n={props.count} /><p>{props.count} items</p></Shell>;
}
/** Not registered: rendered, served, never recorded. */
function About() {
  return <p>About us</p>;
}

test("an app written as public Hono examples are, handlers unchanged, records every page once the middleware is added", async () => {
  const replay = createReplay({ views: { Home, Profile, Dashboard, Badge }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder()); // the one line added
  const items: string[] = [];
  app.get("/", (c) => c.html("<!doctype html>" + renderToString(<Home greeting="Hello" />)));
  app.get("/users/:name", (c) => {
    const page = renderToString(<Shell title="Profile"><Profile user={{ name: c.req.param("name"), joined: new Date(Date.UTC(2025, 4, 1)) }} /></Shell>);
    return c.html(`<!doctype html>${page}`);
  });
  app.get("/dashboard", (c) => c.html(renderToString(<Dashboard count={items.length} />)));
  app.post("/items", async (c) => {
    items.push(String((await c.req.parseBody()).item));
    return c.redirect("/dashboard", 303);
  });
  app.get("/about", (c) => c.html(renderToString(<About />)));
  app.get("/api/items", (c) => c.json(items));
  try {
    const browser = new Browser(app);
    const pages: Record<string, string[]> = { Home: [], Profile: [], Dashboard: [] };
    for (const [view, path] of [["Home", "/"], ["Profile", "/users/ada"], ["Dashboard", "/dashboard"], ["Profile", "/users/grace"], ["Home", "/?again"]]) {
      pages[view].push((await browser.fetch(path)).body);
    }
    assert.is((await browser.fetch("/items", { method: "POST", body: new URLSearchParams({ item: "milk" }), headers: { referer: "http://localhost/dashboard" } })).status, 303);
    pages.Dashboard.push((await browser.fetch("/dashboard")).body);
    await browser.fetch("/about");
    assert.is((await browser.fetch("/api/items")).body, '["milk"]');

    const saved = await recordings(replay);
    assert.equal(saved.map((r) => r.view).sort(), ["Dashboard", "Home", "Profile"], "every registered page; Badge only inside Dashboard");
    for (const recording of saved) {
      const player = replay.player(recording);
      assert.is(player.frameCount, pages[recording.view].length, recording.view);
      for (let i = 0; i < player.frameCount; i++) {
        const frame = player.renderFrame(i);
        assert.is(frame.identical, true, `${recording.view} ${i}`);
        assert.ok(pages[recording.view][i].includes(frame.html), `${recording.view} ${i}: the frame is what was served`);
      }
    }
    const profile = replay.player(saved.find((r) => r.view === "Profile")!);
    assert.equal(profile.timeline.assignsOf(1), { user: { name: "grace", joined: new Date(Date.UTC(2025, 4, 1)) } });
    const dashboard = saved.find((r) => r.view === "Dashboard")!;
    assert.ok(dashboard.events.some((e) => e.kind === "event" && e.name === "POST /items"), "the post/redirect/get is the dashboard's event");
    assert.equal(replay.player(dashboard).timeline.assignsOf(1), { count: 1 });
    assert.is(replay.engine.recorderErrors, 0);
  } finally {
    await replay.close();
  }
});

test("a handler that takes c.html apart from c (const { html } = c) is recorded too", async () => {
  const replay = createReplay({ views: { Home }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  app.get("/", (c) => {
    const { html } = c;
    return html(renderToString(<Home greeting={c.req.query("g") ?? "Hello"} />));
  });
  try {
    const browser = new Browser(app);
    const first = await browser.fetch("/");
    await browser.fetch("/?g=Again");
    assert.ok(first.body.includes("Hello"));
    const saved = await recordings(replay);
    assert.equal(saved.map((r) => r.view), ["Home"]);
    const player = replay.player(saved[0]);
    assert.is(player.frameCount, 2);
    assert.equal(player.timeline.assignsOf(1), { greeting: "Again" });
    assert.is(player.renderFrame(1).identical, true);
  } finally {
    await replay.close();
  }
});

test("renders outside a request, after it answered, of unregistered views, or not served as HTML text are not recorded", async () => {
  const replay = createReplay({ views: { TodoList, Home }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  const late = deferred<string>();
  app.get("/later", (c) => {
    // A job the handler leaves behind: it runs in the request's async context, after the response.
    queueMicrotask(() => setTimeout(() => late.resolve(renderToString(<TodoList todos={todos} filter="all" />))));
    return c.text("queued");
  });
  app.get("/json", (c) => {
    renderToString(<Home greeting="json" />);
    return c.json({ ok: true });
  });
  app.get("/stream", (c) => {
    const html = renderToString(<Home greeting="streamed" />);
    return c.body(new ReadableStream({ start: (s) => (s.enqueue(new TextEncoder().encode(html)), s.close()) }), 200, { "content-type": "text/html" });
  });
  app.get("/nothing", (c) => c.html(renderToString(<About />)));
  try {
    // A background job, outside any request.
    assert.ok(renderToString(<TodoList todos={todos} filter="done" />).includes("Ship"));
    const browser = new Browser(app);
    assert.is((await browser.fetch("/later")).body, "queued");
    assert.ok((await late.promise).includes("Write &lt;tests"));
    await browser.fetch("/json");
    assert.ok((await browser.fetch("/stream")).body.includes("streamed"));
    await browser.fetch("/nothing");
    await replay.flush();
    assert.equal(await replay.store.listActive(), [], "nothing was even mounted");
    assert.equal(await recordings(replay), []);
    assert.is(replay.engine.unservedRenders, 1, "the streamed page is counted, not read");
    assert.is(replay.engine.recorderErrors, 0);
  } finally {
    await replay.close();
  }
});

test("the explicit render in a handler that also renders with renderToString records one frame, the explicit one", async () => {
  const replay = createReplay({ views: { TodoList, Home }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  app.get("/", (c) => {
    renderToString(<Home greeting="side" />);
    return c.var.replay.render(TodoList, { todos, filter: "all" });
  });
  try {
    const browser = new Browser(app);
    await browser.fetch("/");
    await browser.fetch("/");
    const saved = await recordings(replay);
    assert.equal(saved.map((r) => r.view), ["TodoList"]);
    assert.is(replay.player(saved[0]).frameCount, 2);
  } finally {
    await replay.close();
  }
});

test("an attached recording puts its cookie into the handler's own response (no copy), and copies only a response whose headers cannot change", async () => {
  const replay = createReplay({ views: { TodoList }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  const served: Response[] = [];
  // Mounted before the recorder: sees the response the recorder leaves, after it wrote its cookie.
  app.use(async (c, next) => {
    await next();
    served.push(c.res);
  });
  app.use(replay.recorder());
  const handed: Response[] = [];
  app.get("/todos", (c) => {
    const res = c.html(renderToString(<TodoList todos={todos} filter="all" />));
    handed.push(res as Response);
    return res;
  });
  // A response whose headers are immutable (as fetch() gives them): the only way to add the cookie is a copy.
  app.get("/elsewhere", () => Response.redirect("http://localhost/todos", 302));
  try {
    const browser = new Browser(app);
    const first = await browser.fetch("/todos");
    const second = await browser.fetch("/todos");
    assert.ok(first.body.includes("Write &lt;tests>") && second.status === 200);
    // Positive control: each attached render changed the cookie (a new session, then its request counter).
    assert.is(served.length, 2);
    for (const res of served) assert.match(res.headers.get("set-cookie") ?? "", /^hono_replay=/);
    assert.ok(served[0] === handed[0] && served[1] === handed[1], "the handler's response itself, not a copy");
    const saved = await recordings(replay);
    assert.is(replay.player(saved[0]).frameCount, 2, "both requests recorded");

    const redirected = await app.request("/elsewhere");
    assert.is(redirected.status, 302);
    assert.match(redirected.headers.get("set-cookie") ?? "", /^hono_replay=/, "a new session's cookie, on a copy");
  } finally {
    await replay.close();
  }
});

test.run();
