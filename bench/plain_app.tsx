/**
 * The baseline for the request-overhead benchmark: the demo's signup routes
 * (examples/demo/app.tsx) without hono-replay — same views, same props, same
 * validation, rendered with `renderToString` directly. The smoke test checks it
 * serves byte-identical pages to the recorded demo, so the comparison is fair.
 * With `before` mounting `replay.recorder()`, the same handlers are what an app
 * that adopted hono-replay by adding one line serves (attached recording).
 */

import { type Context, Hono } from "hono";
import { setCookie } from "hono/cookie";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { signupProps } from "../examples/demo/signup.ts";
import { SignupForm, type SignupProps } from "../examples/demo/views.tsx";

export function createPlainApp(before?: (app: Hono) => void) {
  const app = new Hono();
  // The request bench's "attached" variant mounts the recorder here: these handlers, unchanged, recorded.
  before?.(app);
  let checks = 0;
  const props = (body: Record<string, unknown>, submitted: boolean) => signupProps(body, submitted, checks);
  // What `c.var.replay.render` does, minus the recording.
  const render = (c: Context, props: SignupProps, status = 200) => {
    const html = renderToString(h(SignupForm, props));
    const body = /^\s*<html[\s>]/i.test(html) ? "<!DOCTYPE html>" + html : html;
    return c.html(body, status as 200);
  };
  app.get("/", (c) => c.redirect("/signup"));
  // The recorder answers the client script's pagehide beacon with 204; without it, the same answer.
  app.post("/__replay/leave", (c) => c.body(null, 204));
  app.get("/signup", (c) => render(c, props({}, false)));
  app.get("/signup/checks", (c) => c.json({ checks }));
  app.post("/signup/validate", async (c) => {
    checks++;
    return render(c, props(await c.req.parseBody(), false));
  });
  app.post("/signup", async (c) => {
    checks++;
    const p = props(await c.req.parseBody(), false);
    const valid = Object.keys(p.errors).length === 0 && p.strengthHint === "";
    if (valid) setCookie(c, "demo_user", p.form.email.replace(/[^a-z0-9@.]/gi, ""), { httpOnly: true, sameSite: "Lax", path: "/" });
    return render(c, { ...p, submitted: valid }, valid ? 200 : 422);
  });
  return app;
}
