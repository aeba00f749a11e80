/**
 * `GET /r/:id/live`: an active recording as it happens, over server-sent
 * events. Each `update` carries what was added after the count the client
 * has (`?after=`, or `Last-Event-ID` when the browser resumes a dropped
 * stream); the last one, once the recording is finalized, carries `final`
 * (its cache key and status), and the stream ends. A recording that ends
 * without being kept (nobody interacted) is announced as `gone`.
 *
 * Invariants, and why:
 * - The store is polled every 500 ms; every read is bounded in time, so a
 *   closing replay (whose requests never settle) ends the stream rather than
 *   holding it open forever.
 * - A storage outage is reported (problems.ts) and waited out: it is not taken
 *   for the recording having gone, which only ~30 s of "not found" is.
 */

import type { Hono } from "hono";
import type { SSEStreamingApi } from "hono/streaming";
import type { DashboardContext } from "../context.ts";
import { statusOf, timelineRows } from "../data.ts";
import type { Env } from "../env.ts";
import { StorageUnavailableError, TimeoutError, withTimeout } from "../problems.ts";
import { withRecording } from "../recording_route.tsx";
import type { Loaded } from "../recordings.ts";
import type { LiveUpdate } from "../shared.ts";
import { liveStream } from "./stream.ts";

const POLL_MS = 500;
/** Polls without news before a comment line keeps proxies from closing the connection (~15 s). */
const PING_EVERY = 30;
/** Polls that find no recording before it is announced gone (~30 s). */
const GONE_AFTER = 60;

export function liveRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/r/:id/live", (c) =>
    withRecording(ctx, c, {
      json: true,
      handle: (loaded) => {
        const after = Number(c.req.header("last-event-id") ?? c.req.query("after") ?? 0);
        const known = Number.isInteger(after) && after >= 0 ? after : 0;
        return liveStream(ctx, c, `of recording ${loaded.recording.id}`, (stream) => follow(ctx, stream, loaded, known));
      },
    }));
}

async function follow(ctx: DashboardContext, stream: SSEStreamingApi, first: Loaded, known: number): Promise<void> {
  const id = first.recording.id;
  let missing = 0;
  let quiet = 0;
  let current: Loaded | undefined | null = first;
  while (!stream.aborted) {
    if (current && current.recording.events.length > known) {
      await stream.writeSSE({ event: "update", id: String(current.recording.events.length), data: JSON.stringify(delta(current, known)) });
      known = current.recording.events.length;
      quiet = 0;
    } else if (current && !current.active) {
      await stream.writeSSE({ event: "update", id: String(known), data: JSON.stringify(delta(current, known)) });
    } else if (++quiet >= PING_EVERY) {
      await stream.write(": ping\n\n");
      quiet = 0;
    }
    if (current && !current.active) return;
    if (current === undefined && ++missing > GONE_AFTER) {
      // Ended without being kept (a recording with no interaction is discarded).
      await stream.writeSSE({ event: "gone", data: "{}" });
      return;
    }
    await stream.sleep(POLL_MS);
    current = await poll(ctx, id);
  }
}

/** The recording now; undefined when the store has none, null when the store could not say. */
async function poll(ctx: DashboardContext, id: string): Promise<Loaded | undefined | null> {
  try {
    return await withTimeout(ctx.recordings.load(id));
  } catch (error) {
    if (error instanceof TimeoutError) throw error; // the replay is closing: end the stream
    if (error instanceof StorageUnavailableError) {
      ctx.problems.storageDown(error);
      return null;
    }
    throw error;
  }
}

/** What was added to the recording after its first `known` events. */
function delta(loaded: Loaded, known: number): LiveUpdate {
  const { recording } = loaded;
  let framesBefore = 0;
  for (let e = 0; e < known && e < recording.events.length; e++) {
    const kind = recording.events[e].kind;
    if (kind === "mount" || kind === "render" || kind === "island") framesBefore++;
  }
  const { events, frames } = timelineRows(recording, Math.min(known, recording.events.length), framesBefore);
  const update: LiveUpdate = { events, frames, durationMs: recording.durationMs, eventCount: recording.events.length };
  if (!loaded.active && loaded.cacheKey) {
    update.final = { cacheKey: loaded.cacheKey, sizeBytes: recording.sizeBytes, status: statusOf(recording, false) };
  }
  return update;
}
