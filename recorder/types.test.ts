/**
 * The public types. `npm run typecheck` compiles this file (tests are in
 * tsconfig.json's include), so every `@ts-expect-error` below is a check: a
 * line that stops being an error fails the type check, as does a line without
 * it that becomes one. What is checked:
 *
 * - `render(View, props)` takes its props type from the view — Preact function
 *   and class components and hono/jsx components alike — so a literal-union
 *   prop (`filter: "all"`) needs no `as const`, and wrong, missing or extra
 *   props are errors;
 * - `c.var.replay` (and `c.get("replay")`) is typed in a plain `new Hono()`
 *   through hono's `ContextVariableMap`; `new Hono<ReplayEnv>()` still works;
 * - the `session` callback's `c` is a hono `Context`, not `any`;
 * - `replay.dashboard()` is a typed `Hono`, not `Hono<any>`.
 *
 * At run time (a uvu suite, like every test file) the plain sub-app is mounted
 * and requested, so what type-checks here also serves the right pages.
 */

import { Hono } from "hono";
import { type FC, jsx } from "hono/jsx";
import { Component, h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, honoView, memoryStorage, type PropsOf, type Replay, type ReplayContext, type ReplayEnv } from "../mod.ts";

type Filter = "all" | "done";

function PreactList(props: { filter: Filter; items: string[] }) {
  return h("ul", { class: props.filter }, props.items.map((i) => h("li", { key: i }, i)));
}

class PreactClassView extends Component<{ filter: Filter }> {
  override render() {
    return h("p", null, this.props.filter);
  }
}

const HonoCount: FC<{ filter: Filter; count: number }> = (props) => jsx("p", { class: props.filter }, String(props.count));
honoView(HonoCount);

function makeReplay(): Replay {
  return createReplay({ views: { PreactList, PreactClassView, HonoCount }, storage: memoryStorage(), worker: false });
}

type IsAny<T> = 0 extends 1 & T ? true : false;
type EnvOf<T> = T extends Hono<infer E, infer _S, infer _B> ? E : never;

/** Never called: its body is what tsc checks. */
function typeChecks(replay: Replay) {
  const sub = new Hono(); // no ReplayEnv
  sub.get("/a", (c) => c.var.replay.render(PreactList, { filter: "all", items: [] }));
  sub.get("/b", (c) => c.var.replay.render(HonoCount, { filter: "done", count: 1 }));
  sub.get("/c", (c) => c.get("replay").render(PreactClassView, { filter: "done" }));
  sub.get("/d", (c) => {
    const ctx: ReplayContext = c.var.replay;
    ctx.info("tick", HonoCount);
    ctx.end(PreactList);
    return ctx.render(PreactList, { filter: "done", items: ["x"] }, { status: 201, headers: { "x-a": "b" } });
  });

  // @ts-expect-error not one of the view's literals
  sub.get("/e", (c) => c.var.replay.render(PreactList, { filter: "some", items: [] }));
  // @ts-expect-error not one of the view's literals (hono/jsx)
  sub.get("/f", (c) => c.var.replay.render(HonoCount, { filter: "some", count: 1 }));
  // @ts-expect-error not one of the view's literals (class component)
  sub.get("/g", (c) => c.var.replay.render(PreactClassView, { filter: "some" }));
  // @ts-expect-error a missing prop
  sub.get("/h", (c) => c.var.replay.render(HonoCount, { filter: "all" }));
  // @ts-expect-error a prop of the wrong type
  sub.get("/i", (c) => c.var.replay.render(HonoCount, { filter: "all", count: "1" }));
  // @ts-expect-error an unknown prop
  sub.get("/j", (c) => c.var.replay.render(PreactList, { filter: "all", items: [], extra: true }));
  // @ts-expect-error not a component
  sub.get("/k", (c) => c.var.replay.render("div", {}));
  // @ts-expect-error ReplayContext has no such member: c.var.replay is not `any`
  sub.get("/l", (c) => c.var.replay.nothing());

  // A value typed as the union, and the exported PropsOf.
  const filter: Filter = Math.random() < 0.5 ? "all" : "done";
  const props: PropsOf<typeof HonoCount> = { filter, count: 2 };
  sub.get("/m", (c) => c.var.replay.render(HonoCount, props));

  // Still fine for code written against ReplayEnv.
  const typed = new Hono<ReplayEnv>();
  typed.get("/n", (c) => c.var.replay.render(PreactList, { filter: "done", items: [] }));
  typed.route("/sub", sub);

  // session: c is a hono Context.
  createReplay({
    views: { PreactList },
    session: (c) => {
      const url: string = c.req.url;
      // @ts-expect-error HonoRequest has no such method: c is not `any`
      c.req.notAMethod();
      // The README's example: variables another middleware set are still readable.
      return { url, method: c.req.method, userId: c.get("user")?.id };
    },
  });

  // dashboard(): a Hono app whose Env is not `any`, mountable on a plain app.
  const dashboard = replay.dashboard({ dangerouslyAllowOpenAccess: true });
  const dashboardEnvIsAny: IsAny<EnvOf<typeof dashboard>> = false;
  new Hono().route("/replay", dashboard);
  return dashboardEnvIsAny;
}
void typeChecks;

test("a plain new Hono() sub-app renders and records through c.var.replay, for Preact and hono/jsx views", async () => {
  const replay = makeReplay();
  try {
    const sub = new Hono();
    sub.get("/list", (c) => c.var.replay.render(PreactList, { filter: "done", items: ["x", "y"] }));
    sub.get("/count", (c) => c.var.replay.render(HonoCount, { filter: "all", count: 7 }));
    sub.get("/class", (c) => c.get("replay").render(PreactClassView, { filter: "all" }));
    const app = new Hono();
    app.use(replay.recorder());
    app.route("/sub", sub);
    const list = await app.request("/sub/list");
    assert.is(list.status, 200);
    assert.is(await list.text(), '<ul class="done"><li>x</li><li>y</li></ul>');
    assert.is(await (await app.request("/sub/count")).text(), '<p class="all">7</p>');
    assert.is(await (await app.request("/sub/class")).text(), "<p>all</p>");
    assert.is((await replay.store.listActive()).length, 3, "each render started a recording");
  } finally {
    await replay.close();
  }
});

test.run();
