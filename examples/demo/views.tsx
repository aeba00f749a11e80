/** The demo's three views. Each is a pure function of its props: that is what replay relies on. */

import type { ComponentChildren } from "preact";
import { ISLANDS_SCRIPT, PasswordIsland, TodoHintIsland } from "./islands.tsx";

export interface SignupProps {
  form: { name: string; email: string };
  errors: { name?: string; email?: string };
  /**
   * 0-4 and a hint, computed on the server from the password, which is never an
   * assign. (Not `errors.password`: the sanitizer drops every key that says
   * "password", and replay would then differ from what was served.)
   */
  strength: number;
  strengthHint: string;
  submitted: boolean;
  checks: number;
}

export interface Todo {
  id: number;
  title: string;
  done: boolean;
}

export interface TodoProps {
  todos: Todo[];
  filter: "all" | "open" | "done";
}

export interface Post {
  id: number;
  title: string;
  tag: string;
  published: Date;
}

export interface PostProps {
  posts: Post[];
  q: string;
  tag: string;
  tags: string[];
  total: number;
}

const styles = `
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
nav a{margin-right:1rem}label{display:block;margin:.6rem 0}input{font:inherit;padding:.3rem;width:18rem}
.error{color:#b00020;font-size:.9em}.ok{color:#0a7d32}.meter{display:inline-block;width:10rem;height:.5rem;background:#eee}
.meter span{display:block;height:100%;background:#0a7d32}li.done span{text-decoration:line-through;color:#888}
li form{display:inline}.muted{color:#777}.rules{margin:.2rem 0;padding-left:1.2rem;font-size:.9em;color:#777}
.rules li.met{color:#0a7d32}.password-field input{width:14rem}`;

/** `islands`: the page has client-side islands (islands.tsx); loads their bundle. */
export function Layout(props: { title: string; children: ComponentChildren; script?: string; islands?: boolean }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{props.title} · hono-replay demo</title>
        <style dangerouslySetInnerHTML={{ __html: styles }} />
      </head>
      <body>
        <nav>
          <a href="/signup">Sign up</a>
          <a href="/todos">Todos</a>
          <a href="/posts">Posts</a>
          <a href="/replay">Replay dashboard</a>
        </nav>
        <h1>{props.title}</h1>
        {props.children}
        {props.script && <script dangerouslySetInnerHTML={{ __html: props.script }} />}
        {props.islands && <script src={ISLANDS_SCRIPT} />}
      </body>
    </html>
  );
}

/**
 * Validated on every keystroke by a server round trip: the script posts the form
 * to /signup/validate and swaps in the parts of the returned page that are not
 * inputs (errors, strength, status), Fresh-partial style.
 */
const signupScript = `
const form = document.querySelector("#signup");
let inflight = 0;
form.addEventListener("input", async () => {
  const mine = ++inflight;
  const res = await fetch("/signup/validate", { method: "POST", body: new URLSearchParams(new FormData(form)), headers: { "x-replay-event": "validate" } });
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  if (mine !== inflight) return;
  for (const el of document.querySelectorAll("[data-partial]")) {
    const fresh = doc.querySelector('[data-partial="' + el.dataset.partial + '"]');
    if (fresh) el.replaceWith(fresh);
  }
});
addEventListener("pagehide", (e) => { if (!e.persisted && navigator.sendBeacon) navigator.sendBeacon("/__replay/leave"); });
`;

export function SignupForm(props: SignupProps) {
  const { form, errors, strength, strengthHint, submitted } = props;
  if (submitted) {
    return (
      <Layout title="Welcome">
        <p class="ok" id="welcome">Welcome aboard, {form.name}! A confirmation went to {form.email}.</p>
        <p><a href="/todos">Start your todo list →</a></p>
      </Layout>
    );
  }
  return (
    <Layout title="Sign up" script={signupScript} islands>
      <form id="signup" method="post" action="/signup">
        <label>Name <input name="name" value={form.name} autocomplete="off" /></label>
        <div data-partial="name-error" class="error">{errors.name ?? ""}</div>
        <label>Email <input name="email" type="email" value={form.email} autocomplete="off" /></label>
        <div data-partial="email-error" class="error">{errors.email ?? ""}</div>
        <PasswordIsland />
        <div data-partial="strength">
          Strength <span class="meter"><span style={`width:${strength * 25}%`} /></span> {strength}/4
          <div class="error">{strengthHint}</div>
        </div>
        <button type="submit">Create account</button>
        <p data-partial="status" class="muted" id="status">{props.checks} server checks so far</p>
      </form>
    </Layout>
  );
}

export function TodoList(props: TodoProps) {
  const shown = props.todos.filter((t) => props.filter === "all" || (props.filter === "done") === t.done);
  return (
    <Layout title="Todos" script={`addEventListener("pagehide", (e) => { if (!e.persisted && navigator.sendBeacon) navigator.sendBeacon("/__replay/leave"); });`} islands>
      <TodoHintIsland text="Tip: press Enter to add a todo." />
      <form method="post" action="/todos">
        <input name="title" placeholder="What needs doing?" required autocomplete="off" /> <button>Add</button>
      </form>
      <p>
        Show: {(["all", "open", "done"] as const).map((f) => (
          <a href={`/todos?filter=${f}`} style={f === props.filter ? "font-weight:bold" : ""}>{f} </a>
        ))}
      </p>
      <ul id="todos">
        {shown.map((todo) => (
          <li class={todo.done ? "done" : ""} data-id={todo.id}>
            <form method="post" action={`/todos/${todo.id}/toggle`}>
              <button aria-label="toggle">{todo.done ? "☑" : "☐"}</button>
            </form>{" "}
            <span>{todo.title}</span>{" "}
            <form method="post" action={`/todos/${todo.id}/delete`}>
              <button aria-label="delete">✕</button>
            </form>
          </li>
        ))}
      </ul>
      <p class="muted">{props.todos.filter((t) => !t.done).length} open of {props.todos.length}</p>
    </Layout>
  );
}

export function PostIndex(props: PostProps) {
  return (
    <Layout title="Posts" script={`new EventSource("/posts/live");`}>
      <form method="get" action="/posts">
        <input name="q" value={props.q} placeholder="Search titles" />
        <select name="tag">
          <option value="">any tag</option>
          {props.tags.map((t) => <option value={t} selected={t === props.tag}>{t}</option>)}
        </select>
        <button>Filter</button>
      </form>
      <p class="muted" id="count">{props.posts.length} of {props.total} posts</p>
      <ul id="posts">
        {props.posts.map((p) => (
          <li>
            <strong>{p.title}</strong> <span class="muted">#{p.tag} · {p.published.toISOString().slice(0, 10)}</span>
          </li>
        ))}
      </ul>
    </Layout>
  );
}
