/**
 * What every route about one recording (`/r/:id/…`) does first: a valid id, a
 * recording that exists, and `authorize(c, recording)`.
 *
 * Invariants, and why:
 * - Refused and unknown answer the same: 404 "not found" for someone allowed
 *   into the dashboard, 403 for anyone else, with the same body. Otherwise the
 *   status would tell an outsider, or a user limited to some recordings,
 *   whether an id exists.
 * - An invalid id is refused before anything is looked up (400): it never
 *   reaches a storage backend.
 * - A corrupt recording has no readable summary to ask `authorize` about: it
 *   is authorized as the dashboard itself is, and answered by the route's
 *   `corrupt` handler (default: a page saying so, with a delete form).
 */

import { CorruptRecordingError, isValidId } from "../format/mod.ts";
import type { Player } from "../replay/mod.ts";
import type { DashboardContext } from "./context.ts";
import type { RequestContext } from "./env.ts";
import { type Loaded, summaryOf } from "./recordings.ts";
import { corruptPage, denied, message } from "./respond.tsx";

export interface RecordingRoute {
  /** Answer in JSON (the player's fetches) rather than HTML pages. */
  json?: boolean;
  handle: (loaded: Loaded) => Response | Promise<Response>;
  corrupt?: (error: CorruptRecordingError) => Response | Promise<Response>;
}

export async function withRecording(ctx: DashboardContext, c: RequestContext, route: RecordingRoute): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const json = route.json === true;
  if (!isValidId(id)) {
    const text = "Recording ids are 1-100 characters of A-Z a-z 0-9 _ -.";
    return json ? c.json({ error: text }, 400) : message(ctx, c, 400, "Invalid recording id", text);
  }
  let loaded: Loaded | undefined;
  try {
    loaded = await ctx.recordings.load(id);
  } catch (error) {
    if (!(error instanceof CorruptRecordingError)) throw error;
    if (!(await ctx.access.allowed(c))) return refused(ctx, c, json);
    if (route.corrupt) return route.corrupt(error);
    return json ? c.json({ error: error.message }, 422) : corruptPage(ctx, c, id, error.message);
  }
  if (loaded && (await ctx.access.allowed(c, summaryOf(loaded.recording)))) return route.handle(loaded);
  if (!(await ctx.access.allowed(c))) return refused(ctx, c, json);
  const text = `There is no recording ${id}: it may have been deleted or cleaned up.`;
  return json ? c.json({ error: text }, 404) : message(ctx, c, 404, "Recording not found", text);
}

function refused(ctx: DashboardContext, c: RequestContext, json: boolean): Response {
  return json ? c.json({ error: "not allowed" }, 403) : denied(ctx, c);
}

/** The recording's player, or the answer saying its view is not registered (so it cannot be replayed). */
export function needPlayer(ctx: DashboardContext, c: RequestContext, loaded: Loaded, json: boolean): Player | Response {
  if (loaded.player) return loaded.player;
  const text = `This recording's view "${loaded.recording.view}" is not registered in createReplay({ views }), so it cannot be replayed.`;
  return json ? c.json({ error: text }, 409) : message(ctx, c, 409, "Cannot replay this recording", text);
}
