/**
 * The demo app: three views that exercise every event kind, recorded by
 * hono-replay. Tests and the benchmark build it with their own storage.
 */

import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { createReplay, type ReplayEnv, type ReplayOptions } from "../../mod.ts";
import { islandsJs } from "./islands.bundle.gen.ts";
import { ISLANDS_SCRIPT } from "./islands.tsx";
import { signupProps } from "./signup.ts";
import { type Post, PostIndex, SignupForm, type Todo, TodoList, type TodoProps } from "./views.tsx";

export const views = { SignupForm, TodoList, PostIndex };

export function createDemoApp(options: Partial<ReplayOptions> = {}) {
  const replay = createReplay({
    views,
    session: (c) => ({ demoUser: getCookie(c, "demo_user") ?? null }),
    ...options,
  });
  const app = new Hono<ReplayEnv>();
  // The replay dashboard, mounted before the recorder so watching recordings is not itself recorded.
  // Open to anyone who can reach the server: fine for this demo, which listens on 127.0.0.1 only.
  // A real app passes `authorize: (c, recording) => isAdmin(c)` instead.
  app.route("/replay", replay.dashboard({ dangerouslyAllowOpenAccess: true }));
  // Client-side islands: their bundle, and where they post their recorded state (before the recorder, like the dashboard).
  app.get(ISLANDS_SCRIPT, (c) => c.body(islandsJs, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" }));
  app.use(replay.islands());
  app.use(replay.recorder());

  app.get("/", (c) => c.redirect("/signup"));

  signupRoutes(app);
  todoRoutes(app);
  postRoutes(app);

  return { app, replay };
}



const TAGS = ["hono", "preact", "replay", "deno"];
const POSTS: Post[] = Array.from({ length: 24 }, (_, i) => ({
  id: i + 1,
  title: ["Islands without the ocean", "Assigns are all you need", "Replaying a keystroke", "Servers render, browsers paint",
    "A ring in shared memory", "Compress the columns", "Deno and Node, one source", "Sanitize before you serialize"][i % 8] + ` (${i + 1})`,
  tag: TAGS[i % TAGS.length],
  published: new Date(Date.UTC(2026, 0, 1 + i * 3)),
}));

type DemoApp = Hono<ReplayEnv>;

function signupRoutes(app: DemoApp) {
  // Sign up: validated on every keystroke (POST /signup/validate), submitted by a form post.
  let checks = 0;
  const props = (body: Record<string, unknown>, submitted: boolean) => signupProps(body, submitted, checks);
  app.get("/signup", (c) => c.var.replay.render(SignupForm, props({}, false)));
  // How many validations ran: JSON, no view (the request bench's route that renders nothing recorded).
  app.get("/signup/checks", (c) => c.json({ checks }));
  app.post("/signup/validate", async (c) => {
    checks++;
    return c.var.replay.render(SignupForm, props(await c.req.parseBody(), false));
  });
  app.post("/signup", async (c) => {
    checks++;
    const filled = props(await c.req.parseBody(), false);
    const valid = Object.keys(filled.errors).length === 0 && filled.strengthHint === "";
    if (valid) setCookie(c, "demo_user", filled.form.email.replace(/[^a-z0-9@.]/gi, ""), { httpOnly: true, sameSite: "Lax", path: "/" });
    return c.var.replay.render(SignupForm, { ...filled, submitted: valid }, { status: valid ? 200 : 422 });
  });
}

function todoRoutes(app: DemoApp) {
  // Todos: form posts that redirect back (post/redirect/get), a filter in the query.
  const todosBySession = new Map<string, { todos: Todo[]; nextId: number }>();
  const todoState = (c: Context) => {
    let key = getCookie(c, "demo_todos");
    if (!key || !todosBySession.has(key)) {
      key = crypto.randomUUID();
      todosBySession.set(key, { todos: [], nextId: 1 });
      setCookie(c, "demo_todos", key, { httpOnly: true, sameSite: "Lax", path: "/" });
    }
    return todosBySession.get(key)!;
  };
  app.get("/todos", (c) => {
    const filter: TodoProps["filter"] = (["open", "done"] as const).find((f) => f === c.req.query("filter")) ?? "all";
    return c.var.replay.render(TodoList, { todos: todoState(c).todos.map((t) => ({ ...t })), filter });
  });
  app.post("/todos", async (c) => {
    const state = todoState(c);
    const title = String((await c.req.parseBody()).title ?? "").trim().slice(0, 200);
    if (title) state.todos.push({ id: state.nextId++, title, done: false });
    return c.redirect("/todos", 303);
  });
  app.post("/todos/:id/toggle", (c) => {
    const todo = todoState(c).todos.find((t) => t.id === Number(c.req.param("id")));
    if (todo) todo.done = !todo.done;
    return c.redirect("/todos", 303);
  });
  app.post("/todos/:id/delete", (c) => {
    const state = todoState(c);
    state.todos = state.todos.filter((t) => t.id !== Number(c.req.param("id")));
    return c.redirect("/todos", 303);
  });
}

function postRoutes(app: DemoApp) {
  // Posts: filtered by query params; a server push over SSE is recorded as info.
  app.get("/posts", (c) => {
    const q = c.req.query("q") ?? "";
    const tag = c.req.query("tag") ?? "";
    const posts = POSTS.filter((p) => (!tag || p.tag === tag) && p.title.toLowerCase().includes(q.toLowerCase()));
    return c.var.replay.render(PostIndex, { posts, q, tag, tags: TAGS, total: POSTS.length });
  });
  app.get("/posts/live", (c) => {
    const replayCtx = c.var.replay;
    return streamSSE(c, async (stream) => {
      for (let i = 0; i < 3 && !stream.aborted; i++) {
        await stream.sleep(10_000);
        replayCtx.info("new-posts-check", PostIndex);
        await stream.writeSSE({ event: "check", data: String(i) });
      }
    });
  });
}
