/**
 * The player (`GET /r/:id`, at `?t=` ms into the recording) and the frame
 * batches its client fetches (`GET /r/:id/frames?from=&count=`), rendered by
 * the replay engine. An active recording opens at its live edge; a finalized
 * one's batches may be cached by the browser (private: only for whom
 * authorize allowed), and its frames in IndexedDB under its cache key.
 */

import type { Hono } from "hono";
import { assetUrls, type DashboardContext } from "../context.ts";
import { renderFrames } from "../data.ts";
import type { Env, RequestContext } from "../env.ts";
import { PlayerPage } from "../pages.tsx";
import { playerData } from "../player_data.ts";
import { needPlayer, withRecording } from "../recording_route.tsx";
import { type Loaded, summaryOf } from "../recordings.ts";
import { htmlPage } from "../respond.tsx";
import { MAX_BATCH } from "../settings.ts";
import type { FrameBatch } from "../shared.ts";

export function playerRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/r/:id", (c) => withRecording(ctx, c, { handle: (loaded) => playerPage(ctx, c, loaded) }));
  app.get("/r/:id/frames", (c) => withRecording(ctx, c, { json: true, handle: (loaded) => frames(ctx, c, loaded) }));
}

async function playerPage(ctx: DashboardContext, c: RequestContext, loaded: Loaded): Promise<Response> {
  const player = needPlayer(ctx, c, loaded, false);
  if (player instanceof Response) return player;
  const { recording } = loaded;
  const { settings } = ctx;
  const asked = c.req.query("t");
  const initialT = asked !== undefined && Number.isFinite(Number(asked))
    ? Math.min(Math.max(0, Number(asked)), recording.durationMs)
    : loaded.active ? recording.durationMs : 0;
  const base = c.var.base;
  const data = playerData(loaded, player, {
    server: { base, origin: new URL(c.req.url).origin },
    initialT,
    frameSources: settings.frameSources,
    head: settings.head,
    batchSize: settings.batchSize,
  });
  const self = `${base}/r/${recording.id}`;
  return htmlPage(
    c,
    200,
    <PlayerPage
      base={base}
      title={`${recording.view} · ${settings.title}`}
      assets={assetUrls(ctx, base)}
      data={data}
      summary={summaryOf(recording)}
      links={{
        download: loaded.active ? undefined : `${self}/download`,
        export: `${self}/export`,
        deleteUrl: loaded.active ? undefined : `${self}/delete`,
        csrf: await ctx.csrf.token(c, base),
      }}
    />,
  );
}

function frames(ctx: DashboardContext, c: RequestContext, loaded: Loaded): Response {
  const player = needPlayer(ctx, c, loaded, true);
  if (player instanceof Response) return player;
  const from = Number(c.req.query("from") ?? 0);
  const count = Number(c.req.query("count") ?? ctx.settings.batchSize);
  if (!Number.isInteger(from) || from < 0 || !Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
    return c.json({ error: `from must be an integer ≥ 0 and count an integer 1-${MAX_BATCH}` }, 400);
  }
  const batch: FrameBatch = { frames: renderFrames(player, from, count), frameCount: player.frameCount, active: loaded.active };
  return c.json(batch, 200, loaded.active ? {} : { "cache-control": "private, max-age=3600" });
}
