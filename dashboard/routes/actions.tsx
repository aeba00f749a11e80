/**
 * What changes the store: `POST /r/:id/delete` and clear all (`GET /clear`
 * asks to confirm, `POST /clear` deletes). Both are POSTs from the
 * dashboard's own forms, checked by csrf.ts; both forget what the dashboard
 * remembers of what they delete (recordings.ts), and the next dashboard page
 * the browser loads purges its cached frames of it (routes/cached.ts).
 *
 * An active recording cannot be deleted here (it would be recreated by its
 * session's next request); a corrupt one can, by whoever may use the
 * dashboard, since its summary cannot be read to ask about it.
 */

import type { Hono } from "hono";
import { assetUrls, type DashboardContext } from "../context.ts";
import type { Env, RequestContext } from "../env.ts";
import { parseFilter } from "../filter.ts";
import { ConfirmClearPage } from "../pages.tsx";
import { withRecording } from "../recording_route.tsx";
import { crossSite, denied, htmlPage, message } from "../respond.tsx";

export function actionRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/clear", async (c) => {
    if (!(await ctx.access.allowed(c))) return denied(ctx, c);
    const { items, nextCursor } = await ctx.problems.stored(() => ctx.replay.store.pageRecordingSummaries({ limit: 1000 }));
    const base = c.var.base;
    const count = `${items.length}${nextCursor ? "+" : ""}`;
    return htmlPage(c, 200, <ConfirmClearPage base={base} assets={assetUrls(ctx, base)} count={count} csrf={await ctx.csrf.token(c, base)} />);
  });

  app.post("/clear", async (c) => {
    if (!(await ctx.access.allowed(c))) return denied(ctx, c);
    if (!(await ctx.csrf.verify(c))) return crossSite(ctx, c);
    await ctx.problems.stored(() => ctx.replay.store.clearAll());
    ctx.recordings.forget();
    return c.redirect(`${c.var.base}/?notice=cleared`, 303);
  });

  app.post("/r/:id/delete", (c) =>
    withRecording(ctx, c, {
      handle: (loaded) =>
        loaded.active
          ? message(ctx, c, 409, "Still recording", "An active recording cannot be deleted; it can be once it has ended.")
          : remove(ctx, c, loaded.recording.id),
      corrupt: (error) => remove(ctx, c, error.id),
    }));
}

async function remove(ctx: DashboardContext, c: RequestContext, id: string): Promise<Response> {
  if (!(await ctx.csrf.verify(c))) return crossSite(ctx, c);
  await ctx.problems.stored(() => ctx.replay.store.deleteRecording(id));
  ctx.recordings.forget(id);
  // Back to the index page the form was on (its filters and page; anything else in `back` is dropped).
  const back = await backField(c);
  const params = new URLSearchParams(back.startsWith("?") ? back.slice(1) : "");
  const { form } = parseFilter((k) => params.get(k) ?? undefined);
  const kept = new URLSearchParams(Object.entries(form).filter(([, v]) => v));
  kept.set("notice", "deleted");
  return c.redirect(`${c.var.base}/?${kept}`, 303);
}

/** The form's `back` field: the index query string it was posted from. */
async function backField(c: RequestContext): Promise<string> {
  try {
    const body = await c.req.parseBody(); // parsed once already by csrf.verify; Hono keeps it
    return typeof body.back === "string" ? body.back : "";
  } catch {
    return ""; // no form body to read twice: back to the first page
  }
}
