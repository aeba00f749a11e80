/**
 * A recording to take away: `GET /r/:id/download` (the stored `.hrp` file, as
 * the store has it) and `GET /r/:id/export` (one self-contained HTML file:
 * every frame pre-rendered and gzipped inside, the client inline, its own
 * policy; it plays offline and fetches nothing).
 *
 * Only a finalized recording can be downloaded (an active one has no file
 * yet). A corrupt one cannot be either: there is nothing valid to give.
 */

import { gzipSync } from "fflate";
import type { Hono } from "hono";
import { RecordingNotFoundError } from "../../format/mod.ts";
import { clientJs } from "../client/bundle.gen.ts";
import type { DashboardContext } from "../context.ts";
import { renderFrames } from "../data.ts";
import type { Env, RequestContext } from "../env.ts";
import { page, PlayerPage } from "../pages.tsx";
import { playerData } from "../player_data.ts";
import { exportPolicy } from "../policy.ts";
import { needPlayer, withRecording } from "../recording_route.tsx";
import { type Loaded, summaryOf } from "../recordings.ts";
import { message } from "../respond.tsx";
import { dashboardCss } from "../styles.ts";

export function fileRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/r/:id/download", (c) => withRecording(ctx, c, { handle: (loaded) => download(ctx, c, loaded) }));
  app.get("/r/:id/export", (c) => withRecording(ctx, c, { handle: (loaded) => exported(ctx, c, loaded) }));
}

async function download(ctx: DashboardContext, c: RequestContext, loaded: Loaded): Promise<Response> {
  const { id } = loaded.recording;
  if (loaded.active) return message(ctx, c, 409, "Still recording", "A recording can be downloaded once it has ended.");
  let bytes: Uint8Array;
  try {
    bytes = await ctx.problems.stored(() => ctx.replay.store.getRecordingFile(id));
  } catch (error) {
    if (!(error instanceof RecordingNotFoundError)) throw error;
    ctx.recordings.forget(id);
    return message(ctx, c, 404, "Recording not found", "It was deleted or cleaned up since it was opened.");
  }
  return new Response(bytes as unknown as BodyInit, {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${id}.hrp"`,
      "content-length": String(bytes.length),
    },
  });
}

/** The inline client's hash, for the export's policy: computed once. */
let clientHash: Promise<string> | undefined;

async function exported(ctx: DashboardContext, c: RequestContext, loaded: Loaded): Promise<Response> {
  const player = needPlayer(ctx, c, loaded, false);
  if (player instanceof Response) return player;
  const { recording } = loaded;
  const { settings } = ctx;
  const data = playerData(loaded, player, { initialT: 0, frameSources: settings.frameSources, head: settings.head, batchSize: settings.batchSize });
  const frames = renderFrames(player, 0, player.frameCount, Infinity);
  const embedded = base64(gzipSync(new TextEncoder().encode(JSON.stringify(frames)), { level: 6 }));
  clientHash ??= sha256Base64(clientJs);
  const policy = exportPolicy(await clientHash);
  const html = page(
    <PlayerPage
      base=""
      title={`${recording.view} ${new Date(recording.startedAt).toISOString().slice(0, 16)} · hono-replay export`}
      data={data}
      summary={summaryOf(recording)}
      inline={{ css: dashboardCss, js: clientJs, csp: policy }}
      embeddedFrames={embedded}
    />,
  );
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-disposition": `attachment; filename="replay-${recording.view.replace(/[^\w-]/g, "_")}-${recording.id}.html"`,
      "content-security-policy": policy,
    },
  });
}

function base64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64(new Uint8Array(digest));
}
