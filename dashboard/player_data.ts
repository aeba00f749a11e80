/**
 * What the player page hands the client (`PlayerData`): the recording's
 * timeline, the frame at the start position rendered, where to fetch the
 * rest, and the head every frame's document starts with. The same data
 * renders the player on the server, so the page is complete before any script
 * runs, and goes into exports, where there is no server to fetch from.
 */

import type { Player } from "../replay/mod.ts";
import { renderFrames, statusOf, timelineRows } from "./data.ts";
import { framePolicy } from "./policy.ts";
import type { Loaded } from "./recordings.ts";
import { lastAtOrBefore, type PlayerData } from "./shared.ts";

export interface PlayerDataOptions {
  /** Where the dashboard is mounted and its origin; undefined for an export (no server). */
  server?: { base: string; origin: string };
  initialT: number;
  frameSources: string[];
  /** The `head` option: the app's stylesheets. */
  head: string;
  batchSize: number;
}

export function playerData(loaded: Loaded, player: Player, o: PlayerDataOptions): PlayerData {
  const { recording } = loaded;
  const { events, frames } = timelineRows(recording);
  const frameIndex = Math.max(0, lastAtOrBefore(frames, o.initialT));
  const self = `${o.server?.base ?? ""}/r/${recording.id}`;
  return {
    mode: o.server ? "server" : "export",
    id: recording.id,
    view: recording.view,
    url: recording.url,
    startedAt: recording.startedAt,
    durationMs: recording.durationMs,
    eventCount: recording.events.length,
    status: statusOf(recording, loaded.active),
    events,
    frames,
    frameHead: frameHead(o.server?.origin, o.frameSources, o.head),
    initialT: o.initialT,
    initialFrames: frames.length ? renderFrames(player, frameIndex, 1) : [],
    batchSize: o.batchSize,
    ...(o.server ? { endpoints: { frames: `${self}/frames`, live: `${self}/live`, page: self } } : {}),
    ...(loaded.cacheKey ? { cacheKey: loaded.cacheKey } : {}),
  };
}

/** The start of every frame's document: its policy, links opening outside the dashboard, the app's head. */
function frameHead(origin: string | undefined, frameSources: string[], head: string): string {
  return `<meta http-equiv="Content-Security-Policy" content="${escapeAttr(framePolicy(origin, frameSources))}"><base target="_blank">${head}`;
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
