/** @jsxImportSource hono/jsx */
/**
 * The demo's three views written with hono/jsx, the way public Hono apps are:
 * page bodies rendered with `c.render(<SignupBody … />)` under a `jsxRenderer`
 * layout (`DemoLayout`). Same props as the Preact views in views.tsx, so one
 * app can serve either; recorder/attach.test.tsx records and replays both.
 * Registered with `honoView(…)`, they are recorded with no handler change.
 */

import type { FC, PropsWithChildren } from "hono/jsx";
import type { PostProps, SignupProps, TodoProps } from "./views.tsx";

/** The jsxRenderer layout: served around each page, not part of the recorded frame (see README). */
export const DemoLayout: FC<PropsWithChildren<{ title?: string }>> = ({ children, title }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>{title ?? "hono-replay demo"}</title>
    </head>
    <body>
      <nav>
        <a href="/signup">Sign up</a> <a href="/todos">Todos</a> <a href="/posts">Posts</a>
      </nav>
      <main>{children}</main>
    </body>
  </html>
);

export const SignupBody: FC<SignupProps> = ({ form, errors, strength, strengthHint, submitted, checks }) =>
  submitted
    ? <p class="ok" id="welcome">Welcome aboard, {form.name}! A confirmation went to {form.email}.</p>
    : (
      <form id="signup" method="post" action="/signup">
        <label>Name <input name="name" value={form.name} autocomplete="off" /></label>
        <div data-partial="name-error" class="error">{errors.name ?? ""}</div>
        <label>Email <input name="email" type="email" value={form.email} autocomplete="off" /></label>
        <div data-partial="email-error" class="error">{errors.email ?? ""}</div>
        <div data-partial="strength">
          Strength <span class="meter"><span style={`width:${strength * 25}%`} /></span> {strength}/4
          <div class="error">{strengthHint}</div>
        </div>
        <p data-partial="status" class="muted" id="status">{checks} server checks so far</p>
      </form>
    );

export const TodoBody: FC<TodoProps> = ({ todos, filter }) => {
  const shown = todos.filter((t) => filter === "all" || (filter === "done") === t.done);
  return (
    <section>
      <p>Show: {(["all", "open", "done"] as const).map((f) => <a href={`/todos?filter=${f}`} aria-current={f === filter ? "page" : undefined}>{f} </a>)}</p>
      <ul id="todos">{shown.map((t) => <li class={t.done ? "done" : ""} data-id={t.id}><span>{t.title}</span></li>)}</ul>
      <p class="muted">{todos.filter((t) => !t.done).length} open of {todos.length}</p>
    </section>
  );
};

export const PostBody: FC<PostProps> = ({ posts, q, tag, tags, total }) => (
  <section>
    <form method="get" action="/posts">
      <input name="q" value={q} />
      <select name="tag">
        <option value="">any tag</option>
        {tags.map((t) => <option value={t} selected={t === tag}>{t}</option>)}
      </select>
    </form>
    <p class="muted" id="count">{posts.length} of {total} posts</p>
    <ul id="posts">{posts.map((p) => <li><strong>{p.title}</strong> <span>#{p.tag} · {p.published.toISOString().slice(0, 10)}</span></li>)}</ul>
  </section>
);
