/**
 * The player's state, in one store: where the playhead is, whether it plays
 * and how, whether it follows a live recording, and the timeline it moves
 * through (which grows while a recording is live). Every change is an action
 * through `reduce`; the components only read the state and dispatch.
 *
 * Invariants, and why:
 * - `reduce` is pure (no DOM, no clock, no fetching), so every rule of the
 *   player (what ← does at the first event, when playback stops at the end,
 *   how a live update moves a following playhead) is tested without a browser
 *   (tests/dashboard_player.test.ts). Effects (player_effects.ts) do the I/O
 *   and turn what happens into actions.
 * - The store changes synchronously: the playback clock and the keyboard read
 *   `store.state` when they run, so a pause stops the clock at the very next
 *   frame; nothing reads a stale copy held by an earlier render.
 * - `t` stays within [0, timeline.durationMs]. Any seek the user makes stops
 *   following the live edge; only "follow" and the clock keep it.
 * - `gaps` are always the idle gaps of `timeline.events` (recomputed when the
 *   events change), so the clock and the scrubber agree on them.
 */

import {
  type EventRow,
  type FrameMeta,
  idleGaps,
  lastAtOrBefore,
  type LiveUpdate,
  type PlayerData,
  type RecordingStatus,
  skipIdle,
} from "../shared.ts";

export interface TimelineState {
  events: EventRow[];
  frames: FrameMeta[];
  durationMs: number;
  eventCount: number;
  status: RecordingStatus;
}

export interface PlayerState {
  timeline: TimelineState;
  /** Idle stretches of `timeline.events`: [from, to]. */
  gaps: [number, number][];
  /** The playhead, in ms since the recording started. */
  t: number;
  playing: boolean;
  speed: number;
  skipIdle: boolean;
  /** At the live edge of an active recording, moving with it. */
  following: boolean;
  /** A passing message ("skipped 2.1 s of idle time"); cleared after a moment by an effect. */
  notice: string;
  /** Idle time skipped since the page opened, in ms. */
  skippedMs: number;
  /** The clock waits for a frame that is still being fetched. */
  buffering: boolean;
  /** Counts frame arrivals: the view re-renders to show them. */
  framesArrived: number;
}

export type PlayerAction =
  | { type: "seek"; t: number }
  | { type: "toggle" }
  | { type: "step"; direction: -1 | 1 }
  | { type: "follow" }
  | { type: "speed"; speed: number }
  | { type: "skipIdle"; on: boolean }
  /** The clock moved the playhead to `t`, skipping `skippedMs` of idle time on the way. */
  | { type: "advance"; t: number; skippedMs: number }
  | { type: "buffering"; on: boolean }
  | { type: "live"; update: LiveUpdate }
  /** The live recording ended without being kept. */
  | { type: "gone" }
  | { type: "notice"; text: string }
  | { type: "framesArrived" };

export function initialState(data: PlayerData): PlayerState {
  return {
    timeline: { events: data.events, frames: data.frames, durationMs: data.durationMs, eventCount: data.eventCount, status: data.status },
    gaps: idleGaps(data.events),
    t: clamp(data.initialT, 0, data.durationMs),
    playing: false,
    speed: 1,
    skipIdle: true,
    following: data.status.active && data.endpoints !== undefined && data.initialT >= data.durationMs,
    notice: "",
    skippedMs: 0,
    buffering: false,
    framesArrived: 0,
  };
}

export function reduce(state: PlayerState, action: PlayerAction): PlayerState {
  switch (action.type) {
    case "seek":
      return seek(state, action.t, false);
    case "toggle":
      if (state.playing) return { ...state, playing: false };
      // Play at the end means play again from the start (unless following: the end moves).
      return { ...(state.t >= state.timeline.durationMs && !state.following ? seek(state, 0, false) : state), playing: true };
    case "step":
      return step(state, action.direction);
    case "follow":
      return seek({ ...state, following: true }, state.timeline.durationMs, true);
    case "speed":
      return { ...state, speed: action.speed };
    case "skipIdle":
      return { ...state, skipIdle: action.on };
    case "advance":
      return advance(state, action.t, action.skippedMs);
    case "buffering":
      return state.buffering === action.on ? state : { ...state, buffering: action.on };
    case "live":
      return live(state, action.update);
    case "gone":
      return { ...state, notice: "the recording ended without being kept", timeline: { ...state.timeline, status: { ...state.timeline.status, active: false } } };
    case "notice":
      return { ...state, notice: action.text };
    case "framesArrived":
      return { ...state, framesArrived: state.framesArrived + 1 };
  }
}

/** Where the clock takes the playhead after `dt` ms of wall time: the speed applied, an idle gap it enters skipped. */
export function nextTime(state: PlayerState, dt: number): { t: number; skippedMs: number } {
  const t = state.t + dt * state.speed;
  if (!state.skipIdle) return { t, skippedMs: 0 };
  const skipped = skipIdle(state.gaps, t);
  return { t: skipped, skippedMs: skipped - t };
}

function seek(state: PlayerState, t: number, keepFollowing: boolean): PlayerState {
  return { ...state, t: clamp(t, 0, state.timeline.durationMs), following: keepFollowing && state.following };
}

/** ← to the previous event's time (strictly before t), → to the next one's (or the end). */
function step(state: PlayerState, direction: -1 | 1): PlayerState {
  const { events, durationMs } = state.timeline;
  if (direction < 0) {
    const i = lastAtOrBefore(events, state.t - 1);
    return seek(state, i >= 0 ? events[i].t : 0, false);
  }
  const i = lastAtOrBefore(events, state.t) + 1;
  return seek(state, i < events.length ? events[i].t : durationMs, false);
}

function advance(state: PlayerState, t: number, skippedMs: number): PlayerState {
  const moved: PlayerState = { ...state, buffering: false };
  if (skippedMs > 0) {
    moved.notice = `skipped ${(skippedMs / 1000).toFixed(1)} s of idle time`;
    moved.skippedMs = state.skippedMs + skippedMs;
  }
  const { durationMs, status } = state.timeline;
  if (t < durationMs) return seek(moved, t, true);
  // The end: a finalized recording stops there; a followed live one waits for more.
  return { ...seek(moved, durationMs, true), playing: status.active && state.following };
}

function live(state: PlayerState, update: LiveUpdate): PlayerState {
  const current = state.timeline;
  const events = update.events.length ? [...current.events, ...update.events] : current.events;
  const timeline: TimelineState = {
    events,
    frames: update.frames.length ? [...current.frames, ...update.frames] : current.frames,
    durationMs: Math.max(current.durationMs, update.durationMs),
    eventCount: update.eventCount,
    status: update.final ? update.final.status : current.status,
  };
  const next = { ...state, timeline, gaps: events === current.events ? state.gaps : idleGaps(events) };
  // A followed recording moves its playhead to the new end; once final, following stops.
  return state.following ? seek(next, timeline.durationMs, !update.final) : next;
}

/** The one store: state, dispatch, and who to tell when it changed. */
export class PlayerStore {
  private readonly listeners = new Set<() => void>();

  constructor(public state: PlayerState) {}

  readonly dispatch = (action: PlayerAction): void => {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  };

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

export function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
