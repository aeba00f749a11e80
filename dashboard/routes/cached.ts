/**
 * `GET /cached?ids=a,b,…`: which of the recordings a browser holds frames of
 * (in IndexedDB, client/frame_cache.ts) it may keep. Every dashboard page asks
 * on load and the browser purges the others, so a recording deleted anywhere
 * (this dashboard, another admin, another instance, the API, cleanup) leaves
 * no copy in the browser of anyone who opens the dashboard again.
 *
 * Invariants, and why:
 * - Answered from the store as it is now, never from the dashboard's memory:
 *   it decides what is erased.
 * - A recording the caller may not see is not kept: an answer must not tell
 *   whether an id exists (the same as every route about one recording), and a
 *   user who lost access to a recording should not keep a copy of it either.
 * - A store that cannot answer is a 503: the browser keeps its cache for now
 *   and asks again on the next page, rather than purge on a guess.
 */

import type { Hono } from "hono";
import type { DashboardContext } from "../context.ts";
import type { Env } from "../env.ts";
import { idsOf } from "../filter.ts";

export function cachedRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/cached", async (c) => {
    if (!(await ctx.access.allowed(c))) return c.json({ error: "not allowed" }, 403);
    const ids = idsOf(c.req.query("ids"));
    if (typeof ids === "string") return c.json({ error: ids }, 400);
    const keep: string[] = [];
    for (const id of ids) {
      const summary = await ctx.recordings.current(id);
      if (summary && (await ctx.access.allowed(c, summary))) keep.push(id);
    }
    return c.json({ keep });
  });
}
