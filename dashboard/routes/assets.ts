/**
 * `GET /assets/<name>`: the client module and the stylesheet, under
 * content-hashed names so browsers may keep them for good. Asked of
 * `authorize` like every other route: an outsider learns nothing, not even
 * which version of the dashboard runs; and so cached privately only.
 */

import type { Hono } from "hono";
import { clientJs } from "../client/bundle.gen.ts";
import type { DashboardContext } from "../context.ts";
import type { Env } from "../env.ts";
import { denied } from "../respond.tsx";
import { dashboardCss } from "../styles.ts";

export function assetRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/assets/:name", async (c) => {
    if (!(await ctx.access.allowed(c))) return denied(ctx, c);
    const name = c.req.param("name");
    const body = name === ctx.assets.js ? clientJs : name === ctx.assets.css ? dashboardCss : undefined;
    if (body === undefined) return c.text("not found", 404);
    return new Response(body, {
      headers: {
        "content-type": name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
        "cache-control": "private, max-age=31536000, immutable",
      },
    });
  });
}
