/**
 * The active recordings, as the index's "active now" table shows them: on
 * the page, then pushed over server-sent events (`GET /live`) whenever they
 * change, with the index's filters applied.
 *
 * Each row is asked about with `authorize(c, summary)`, like finalized ones.
 * The stream sends only when the rows change, and a comment line every ~15 s
 * so proxies keep the connection open.
 */

import type { Hono } from "hono";
import { matchesFilter, type SummaryFilter } from "../../storage/mod.ts";
import type { DashboardContext } from "../context.ts";
import type { Env, RequestContext } from "../env.ts";
import { parseFilter } from "../filter.ts";
import { withTimeout } from "../problems.ts";
import { denied } from "../respond.tsx";
import type { ActiveRow } from "../shared.ts";
import { liveStream } from "./stream.ts";

export async function activeRows(ctx: DashboardContext, c: RequestContext, filter: SummaryFilter): Promise<ActiveRow[]> {
  const rows: ActiveRow[] = [];
  for (const s of await ctx.problems.stored(() => ctx.replay.store.listActive())) {
    if (!matchesFilter(s, { ...filter, cursor: undefined }) || !(await ctx.access.allowed(c, s))) continue;
    rows.push({ id: s.id, view: s.view, url: s.url, startedAt: s.startedAt, durationMs: s.durationMs, eventCount: s.eventCount, href: `${c.var.base}/r/${s.id}` });
  }
  return rows.sort((a, b) => b.startedAt - a.startedAt);
}

export function activeRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/live", async (c) => {
    if (!(await ctx.access.allowed(c))) return denied(ctx, c);
    const { filter } = parseFilter((k) => c.req.query(k));
    return liveStream(ctx, c, "of active recordings", async (stream) => {
      let last = "";
      let quiet = 0;
      while (!stream.aborted) {
        const rows = JSON.stringify(await withTimeout(activeRows(ctx, c, filter)));
        if (rows !== last) {
          await stream.writeSSE({ event: "active", data: rows });
          last = rows;
          quiet = 0;
        } else if (++quiet >= 15) {
          await stream.write(": ping\n\n");
          quiet = 0;
        }
        await stream.sleep(1000);
      }
    });
  });
}
