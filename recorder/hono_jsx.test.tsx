/** @jsxImportSource hono/jsx */
/**
 * Views written with hono/jsx (this file compiles its JSX with hono/jsx): they
 * are served exactly as hono renders them, recorded through the middleware, and
 * replayed byte-identical — next to a Preact view in the same app. Also the
 * mistakes that must be loud: a hono/jsx view not marked with honoView, a
 * Preact view marked with it, and an async hono/jsx component.
 */

import { Hono } from "hono";
import { html, raw } from "hono/html";
import type { FC } from "hono/jsx";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, honoView, memoryStorage, ReplayError } from "../mod.ts";
import { renderView, withDoctype } from "./render.ts";

// ---------------------------------------------------------------- hono/jsx views

type Filter = "all" | "open" | "done";

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

interface TodoPageProps {
  todos: Todo[];
  filter: Filter;
  note?: string;
}

const Item: FC<{ todo: Todo }> = ({ todo }) => (
  <li class={todo.done ? "done" : "open"} data-id={todo.id}>
    <input type="checkbox" checked={todo.done} disabled />
    <span style={{ color: todo.done ? "gray" : "black", fontWeight: 600 }}>{todo.title}</span>
  </li>
);

/** A whole document: served with a doctype. */
const TodoPage: FC<TodoPageProps> = ({ todos, filter, note }) => {
  const shown = todos.filter((t) => filter === "all" || (filter === "done") === t.done);
  return (
    <html lang="en">
      <head>
        <title>Todos ({filter})</title>
        <style>{raw("li.done { text-decoration: line-through }")}</style>
      </head>
      <body>
        <nav>
          {(["all", "open", "done"] as const).map((f) => <a href={`?filter=${f}`} aria-current={f === filter ? "page" : undefined}>{f}</a>)}
        </nav>
        <ul>{shown.map((t) => <Item todo={t} />)}</ul>
        <>
          <p>{shown.length} of {todos.length}</p>
          {note ? <p class="note">{note}</p> : null}
        </>
        <svg viewBox="0 0 10 10"><circle cx={5} cy={5} r={4} strokeWidth={1} /></svg>
        <footer dangerouslySetInnerHTML={{ __html: "<em>raw</em>" }} />
      </body>
    </html>
  );
};
honoView(TodoPage);

/** A fragment view returning the `html` helper's output: served as it is. */
function Badge(props: { count: number; label: string }) {
  return html`<span class="badge" title="${props.label}">${props.count}</span>`;
}

/** Async: refused, the same when recording and when replaying. */
const AsyncView = honoView(async (props: { id: number }) => {
  await Promise.resolve();
  return <p>{props.id}</p>;
});

/** A hono/jsx view someone forgot to mark. */
const Unmarked: FC<{ x: number }> = ({ x }) => <p>{x}</p>;

/** A Preact view in the same app. */
function PreactPanel(props: { open: boolean; items: string[] }) {
  return h("section", { class: props.open ? "open" : "closed" }, props.items.map((i) => h("b", { key: i }, i)));
}

/** A Preact view wrongly marked as hono/jsx: its own copy, so the others stay unmarked. */
function MarkedPreact(props: { y: number }) {
  return h("i", null, props.y);
}

// ---------------------------------------------------------------- the app

const todos: Todo[] = [
  { id: 1, title: "Write <tests> & \"docs\"", done: false },
  { id: 2, title: "日本語 😀", done: true },
];

function makeApp() {
  const replay = createReplay({
    views: { TodoPage, Badge: honoView(Badge), PreactPanel, AsyncView, Unmarked, MarkedPreact: honoView(MarkedPreact as never) },
    storage: memoryStorage(),
  });
  const app = new Hono();
  app.use(replay.recorder());
  app.onError((error, c) => c.text(`${error.name}: ${error.message}`, 500));
  const list = [...todos];
  const filterOf = (q: string | undefined): Filter => (q === "open" || q === "done" ? q : "all");
  app.get("/todos", (c) => c.var.replay.render(TodoPage, { todos: list, filter: filterOf(c.req.query("filter")), note: c.req.query("note") }));
  app.post("/todos", async (c) => {
    const body = await c.req.parseBody();
    list.push({ id: list.length + 1, title: String(body.title), done: false });
    // A literal-union prop, no `as const`.
    return c.var.replay.render(TodoPage, { todos: list, filter: "all" });
  });
  app.get("/badge", (c) => c.var.replay.render(Badge, { count: Number(c.req.query("n") ?? 0), label: "<n>" }));
  app.post("/badge", (c) => c.var.replay.render(Badge, { count: 99, label: "'quoted'" }));
  app.get("/panel", (c) => c.var.replay.render(PreactPanel, { open: c.req.query("open") === "1", items: ["a", "b"] }));
  app.post("/panel", (c) => c.var.replay.render(PreactPanel, { open: true, items: ["a", "b", "c"] }));
  app.get("/async", (c) => c.var.replay.render(AsyncView, { id: 1 }));
  app.get("/unmarked", (c) => c.var.replay.render(Unmarked, { x: 1 }));
  app.get("/marked-preact", (c) => c.var.replay.render(MarkedPreact, { y: 1 }));
  return { replay, app };
}

class Browser {
  cookie = "";
  constructor(private readonly app: Hono) {}

  async fetch(path: string, init: { method?: string; body?: BodyInit } = {}) {
    const res = await this.app.request(path, { ...init, headers: this.cookie ? { cookie: this.cookie } : {} });
    const set = res.headers.get("set-cookie")?.match(/hono_replay=[a-z0-9]+/)?.[0];
    if (set) this.cookie = set;
    return { status: res.status, body: await res.text() };
  }
}

// ---------------------------------------------------------------- tests

test("hono/jsx views are served as hono renders them, recorded, and replayed byte-identical, next to a Preact view", async () => {
  const { replay, app } = makeApp();
  try {
    const browser = new Browser(app);
    const served: Record<string, string[]> = { TodoPage: [], Badge: [], PreactPanel: [] };
    const get = async (view: string, path: string, init?: { method?: string; body?: BodyInit }) => {
      const res = await browser.fetch(path, init);
      assert.is(res.status, 200, `${path}: ${res.body}`);
      served[view].push(res.body);
    };
    await get("TodoPage", "/todos");
    await get("Badge", "/badge?n=3");
    await get("PreactPanel", "/panel");
    await get("TodoPage", "/todos?filter=done&note=<b>%26amp;");
    await get("TodoPage", "/todos", { method: "POST", body: new URLSearchParams({ title: "<script>x</script>" }) });
    await get("Badge", "/badge", { method: "POST" });
    await get("PreactPanel", "/panel?open=1");
    await get("PreactPanel", "/panel", { method: "POST" });
    await get("TodoPage", "/todos?filter=open");

    // What was served is hono's own rendering of the component, with a doctype for the document.
    const first = served.TodoPage[0];
    const hono = String(await (<TodoPage todos={todos} filter="all" />).toString());
    assert.is(first, "<!DOCTYPE html>" + hono);
    assert.ok(first.includes("Write &lt;tests&gt; &amp; &quot;docs&quot;"), first);
    assert.ok(first.includes('<footer><em>raw</em></footer>'), first);
    assert.ok(served.TodoPage[2].includes("&lt;script&gt;x&lt;/script&gt;"));
    assert.is(served.Badge[0], '<span class="badge" title="&lt;n&gt;">3</span>');
    assert.ok(served.PreactPanel[0].startsWith('<section class="closed"><b>a</b>'));

    await replay.close();
    const saved = await replay.store.listRecordings({ sort: "startedAt", order: "asc" });
    assert.equal(saved.map((r) => r.view).sort(), ["Badge", "PreactPanel", "TodoPage"]);
    for (const recording of saved) {
      const player = replay.player(recording);
      const bodies = served[recording.view];
      assert.is(player.frameCount, bodies.length, `${recording.view}: one frame per served page`);
      for (let i = 0; i < bodies.length; i++) {
        const frame = player.renderFrame(i);
        assert.is(withDoctype(frame.html), bodies[i], `${recording.view} frame ${i}`);
        assert.is(frame.identical, true, `${recording.view} frame ${i}: the stored hash agrees`);
      }
      const report = player.fidelity();
      assert.is(report.identical, player.frameCount, `${recording.view}: every frame identical`);
      assert.equal(report.differing, []);
    }
  } finally {
    await replay.close();
  }
});

test("renderView: hono/jsx views (components, the html helper) render as hono renders them; Preact views as before", async () => {
  const props: TodoPageProps = { todos, filter: "done" };
  assert.is(renderView(TodoPage, props), String(await (<TodoPage {...props} />).toString()));
  assert.is(renderView(Badge, { count: 1, label: "a&b" }), '<span class="badge" title="a&amp;b">1</span>');
  assert.is(renderView(PreactPanel, { open: false, items: [] }), '<section class="closed"></section>');
  // The props object is not touched (hono's jsx() deletes `key` from what it is given).
  const keyed = { count: 2, label: "k", key: "x" };
  renderView(Badge, keyed);
  assert.is(keyed.key, "x");
});

test("an async hono/jsx view is refused with a ReplayError that says what to do, when recording and when replaying", async () => {
  const { replay, app } = makeApp();
  try {
    const res = await new Browser(app).fetch("/async");
    assert.is(res.status, 500);
    assert.match(res.body, /^ReplayError: hono-replay: view .* renders asynchronously/);
    assert.match(res.body, /load the data in the handler and pass it as props/);
    assert.throws(() => renderView(AsyncView, { id: 1 }), (e: unknown) => e instanceof ReplayError && /asynchronously/.test(e.message));
    assert.is(replay.engine.recorderErrors, 0, "a render error is the handler's, not the recorder's");
  } finally {
    await replay.close();
  }
});

test("a hono/jsx view not marked with honoView is a ReplayError naming the fix, not an empty page", async () => {
  const { replay, app } = makeApp();
  try {
    const res = await new Browser(app).fetch("/unmarked");
    assert.is(res.status, 500);
    assert.match(res.body, /view Unmarked returned hono\/jsx output/);
    assert.match(res.body, /honoView\(Unmarked\)/);
    assert.throws(() => renderView(Unmarked, { x: 1 }), (e: unknown) => e instanceof ReplayError && /honoView\(Unmarked\)/.test(e.message));
    // A Preact view that renders nothing is still fine.
    assert.is(renderView(() => null, {}), "");
  } finally {
    await replay.close();
  }
});

test("a Preact view marked with honoView is a ReplayError; honoView refuses class components and non-functions", async () => {
  const { replay, app } = makeApp();
  try {
    const res = await new Browser(app).fetch("/marked-preact");
    assert.is(res.status, 500);
    assert.match(res.body, /marked with honoView\(\) but returned a Preact element/);
    class Klass {
      render() {
        return null;
      }
    }
    assert.throws(() => honoView(Klass as never), /class component/);
    assert.throws(() => honoView("div" as never), /expected a hono\/jsx function component, got string/);
    assert.throws(() => honoView(Object.freeze(() => <p />)), /frozen/);
    assert.is(honoView(TodoPage), TodoPage, "marking twice is harmless and returns the same function");
  } finally {
    await replay.close();
  }
});

test.run();
