/** @jsxImportSource hono/jsx */
/**
 * A hono/jsx app written as Hono's own examples are — `c.html(<Page />)`,
 * `c.render(<Page />)` under `jsxRenderer`, a page inside a wrapper component —
 * with only the middleware added: every page of a registered view is recorded,
 * and each frame (the view's markup, a slice of the served page) replays
 * byte-identical.
 */

import { Hono } from "hono";
import type { FC, PropsWithChildren } from "hono/jsx";
import { jsxRenderer } from "hono/jsx-renderer";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, honoView, memoryStorage } from "../mod.ts";

declare module "hono" {
  interface ContextRenderer {
    (content: string | Promise<string>, props?: { title?: string }): Response | Promise<Response>;
  }
}

const Card: FC<PropsWithChildren> = ({ children }) => <div class="card">{children}</div>;
const Hello: FC<{ name: string }> = ({ name }) => <h1>Hello, {name}!</h1>;
const List: FC<{ items: string[] }> = ({ items }) => <ul>{items.map((i) => <li>{i}</li>)}</ul>;
honoView(Hello);
honoView(List);

test("a hono/jsx app as in Hono's examples, handlers unchanged: c.html(<Page />), c.render under jsxRenderer, a wrapped page", async () => {
  const replay = createReplay({ views: { Hello, List }, storage: memoryStorage(), worker: false });
  const app = new Hono();
  app.use(replay.recorder());
  app.use("/app/*", jsxRenderer(({ children, title }) => <html><head><title>{title}</title></head><body>{children}</body></html>));
  app.get("/hello/:name", (c) => c.html(<Hello name={c.req.param("name")} />));
  app.get("/app/list", (c) => c.render(<List items={(c.req.query("i") ?? "a,b").split(",")} />, { title: "List" }));
  app.get("/app/card", (c) => c.render(<Card><Hello name="card" /></Card>, { title: "Card" }));
  try {
    let cookie = "";
    const served: Record<string, string[]> = { Hello: [], List: [] };
    for (const [view, path] of [["Hello", "/hello/ada"], ["List", "/app/list"], ["Hello", "/hello/grace"], ["List", "/app/list?i=x,<y>"], ["Hello", "/app/card"]]) {
      const res = await app.request(path, { headers: cookie ? { cookie } : {} });
      cookie = res.headers.get("set-cookie")?.match(/hono_replay=[^;]+/)?.[0] ?? cookie;
      served[view].push(await res.text());
    }
    assert.ok(served.List[0].startsWith("<!DOCTYPE html><html><head><title>List</title>"), served.List[0]);
    await replay.close();
    const saved = await replay.store.listRecordings();
    assert.equal(saved.map((r) => r.view).sort(), ["Hello", "List"]);
    for (const recording of saved) {
      const player = replay.player(recording);
      assert.is(player.frameCount, served[recording.view].length, recording.view);
      for (let i = 0; i < player.frameCount; i++) {
        const frame = player.renderFrame(i);
        assert.is(frame.identical, true, `${recording.view} ${i}`);
        assert.ok(served[recording.view][i].includes(frame.html), `${recording.view} ${i}`);
      }
    }
    const hello = replay.player(saved.find((r) => r.view === "Hello")!);
    assert.equal(hello.timeline.assignsOf(2), { name: "card" }, "the registered view inside an unregistered wrapper");
    assert.is(hello.renderFrame(0).html, served.Hello[0], "c.html(<Hello />) serves exactly the frame");
    assert.is(replay.engine.recorderErrors, 0);
  } finally {
    await replay.close();
  }
});

test.run();
