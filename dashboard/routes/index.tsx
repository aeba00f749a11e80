/**
 * The index (`GET /`): one page of finalized recordings with the filters of
 * the URL, the active ones, the stored ones that cannot be read (marked in
 * the table when they are on the page, and listed on their own), and what
 * this instance did not record (the engine's counters). Rows `authorize`
 * refuses are left out; the fidelity column is filled from what is known and
 * by the client for the rest (routes/fidelity.ts).
 */

import type { Hono } from "hono";
import { assetUrls, type DashboardContext } from "../context.ts";
import { statusOf } from "../data.ts";
import type { Env, RequestContext } from "../env.ts";
import { parseFilter } from "../filter.ts";
import { IndexPage, type IndexRow, type RecorderStats } from "../index_page.tsx";
import { denied, htmlPage } from "../respond.tsx";
import { activeRows } from "./active.ts";

const NOTICES: Record<string, string> = { deleted: "The recording was deleted.", cleared: "Every finalized recording was deleted." };

export function indexRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/", (c) => index(ctx, c));
}

export async function index(ctx: DashboardContext, c: RequestContext): Promise<Response> {
  if (!(await ctx.access.allowed(c))) return denied(ctx, c);
  const base = c.var.base;
  const { filter, form } = parseFilter((k) => c.req.query(k));
  const found = await ctx.problems.stored(() => ctx.replay.store.pageRecordingSummaries({ ...filter, limit: ctx.settings.pageSize }));
  const corrupt = await ctx.problems.stored(() => ctx.replay.store.listCorrupt());
  ctx.recordings.noteCorrupt(corrupt);
  const rows: IndexRow[] = [];
  for (const summary of found.items) {
    if (!(await ctx.access.allowed(c, summary))) continue;
    const reason = ctx.recordings.corruptReason(summary.id);
    rows.push({
      summary,
      status: reason !== undefined ? { ...statusOf(summary, false), corrupt: reason } : statusOf(summary, false),
      href: `${base}/r/${summary.id}`,
      deleteUrl: `${base}/r/${summary.id}/delete`,
      fidelity: ctx.recordings.fidelity.get(summary.id),
    });
  }
  const query = (changes: Record<string, string | undefined>) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...form, ...changes })) if (v) params.set(k, v);
    const text = params.toString();
    return `${base}/${text ? "?" + text : ""}`;
  };
  const sort = filter.sort ?? "startedAt";
  const order = filter.order ?? "desc";
  const back = query({ cursor: undefined }).slice(base.length + 1);
  return htmlPage(
    c,
    200,
    <IndexPage
      base={base}
      assets={assetUrls(ctx, base)}
      title={ctx.settings.title}
      views={Object.keys(ctx.replay.views)}
      form={form}
      rows={rows}
      corrupt={corrupt}
      active={await activeRows(ctx, c, filter)}
      liveUrl={`${base}/live${back}`}
      nextUrl={found.nextCursor ? query({ cursor: found.nextCursor }) : undefined}
      firstUrl={filter.cursor ? query({ cursor: undefined }) : undefined}
      sortUrl={(key) => query({ sort: key, order: sort === key && order === "desc" ? "asc" : "desc", cursor: undefined })}
      sort={sort}
      order={order}
      csrf={await ctx.csrf.token(c, base)}
      back={back}
      notice={NOTICES[c.req.query("notice") ?? ""]}
      stats={recorderStats(ctx)}
    />,
  );
}

/** This instance's counters: what it did not record, and why. */
function recorderStats(ctx: DashboardContext): RecorderStats {
  const engine = ctx.replay.engine;
  return {
    capped: engine.capped,
    dropped: engine.dropped,
    recorderErrors: engine.recorderErrors,
    unservedRenders: engine.unservedRenders,
    restarts: engine.restarts,
    streamErrors: ctx.problems.streamErrors,
  };
}
