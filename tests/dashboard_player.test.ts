/**
 * The player's rules, without a browser: its state is one store changed only
 * through a pure reducer (dashboard/client/player_store.ts), so what a key, a
 * button, the clock or a live update does can be checked directly. The
 * browser test (browser_dashboard.test.ts) checks the same player end to end.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { initialState, nextTime, PlayerStore, type PlayerState, reduce } from "../dashboard/client/player_store.ts";
import type { EventRow, LiveUpdate, PlayerData } from "../dashboard/shared.ts";

/** Events at these times (a mount first); frames at the mount and each render. */
function data(times: number[], options: { active?: boolean; initialT?: number } = {}): PlayerData {
  const events: EventRow[] = times.map((t, i) => ({ t, kind: i === 0 ? "mount" : i % 2 ? "event" : "render", label: "", detail: "" }));
  const frames = events.flatMap((e, i) => (e.kind === "event" ? [] : [{ t: e.t, e: i }]));
  const durationMs = times[times.length - 1];
  return {
    mode: "server", id: "r", view: "V", url: "http://x/", startedAt: 0, durationMs, eventCount: events.length,
    status: { active: options.active ?? false, truncated: false, dropped: 0, recovered: false },
    events, frames, frameHead: "", initialT: options.initialT ?? 0, initialFrames: [], batchSize: 100,
    endpoints: { frames: "/f", live: "/l", page: "/p" },
  };
}

const run = (state: PlayerState, ...actions: Parameters<typeof reduce>[1][]) => actions.reduce(reduce, state);

test("opening: at ?t= (clamped), and at the live edge following when an active recording opens at its end", () => {
  assert.is(initialState(data([0, 100, 200], { initialT: 999 })).t, 200);
  assert.is(initialState(data([0, 100, 200], { initialT: 150 })).following, false, "a finalized recording is not followed");
  const live = initialState(data([0, 100, 200], { active: true, initialT: 200 }));
  assert.is(live.following, true);
  assert.is(initialState(data([0, 100, 200], { active: true, initialT: 50 })).following, false, "opened at a moment of it: not following");
});

test("play/pause: play at the end plays again from the start; pause stops", () => {
  const atEnd = initialState(data([0, 100, 200], { initialT: 200 }));
  const playing = reduce(atEnd, { type: "toggle" });
  assert.is(playing.playing, true);
  assert.is(playing.t, 0, "from the start");
  assert.is(reduce(playing, { type: "toggle" }).playing, false);
  const following = initialState(data([0, 100, 200], { active: true, initialT: 200 }));
  assert.is(reduce(following, { type: "toggle" }).t, 200, "following a live recording: the end moves, so no restart");
});

test("stepping: ← to the previous event strictly before, → to the next (or the end); both stop following", () => {
  const s = initialState(data([0, 100, 100, 250, 400], { initialT: 100 }));
  assert.is(reduce(s, { type: "step", direction: 1 }).t, 250);
  assert.is(reduce(s, { type: "step", direction: -1 }).t, 0);
  assert.is(run(s, { type: "seek", t: 0 }, { type: "step", direction: -1 }).t, 0, "nothing before the start");
  assert.is(run(s, { type: "seek", t: 400 }, { type: "step", direction: 1 }).t, 400, "nothing after the end");
  const live = initialState(data([0, 100, 200], { active: true, initialT: 200 }));
  assert.is(reduce(live, { type: "step", direction: -1 }).following, false);
  assert.is(reduce(live, { type: "seek", t: -5 }).t, 0, "clamped");
  const back = run(live, { type: "seek", t: 0 }, { type: "follow" });
  assert.equal([back.t, back.following], [200, true], "follow goes back to the live edge");
});

test("the clock: speed, idle gaps skipped (and counted), stopping at the end unless following a live recording", () => {
  const s = initialState(data([0, 100, 5_000, 5_100]));
  assert.equal(nextTime({ ...s, speed: 4 }, 10), { t: 40, skippedMs: 0 });
  const inGap = nextTime({ ...s, t: 1_000 }, 10);
  assert.is(inGap.t, 4_500, "to half a second before the gap's end");
  assert.is(inGap.skippedMs, 3_490);
  assert.equal(nextTime({ ...s, t: 1_000, skipIdle: false }, 10), { t: 1_010, skippedMs: 0 });

  const played = run(s, { type: "toggle" }, { type: "advance", t: inGap.t, skippedMs: inGap.skippedMs });
  assert.is(played.t, 4_500);
  assert.is(played.skippedMs, 3_490);
  assert.match(played.notice, "skipped 3.5 s of idle time");
  const ended = reduce(played, { type: "advance", t: 9_999, skippedMs: 0 });
  assert.equal([ended.t, ended.playing], [5_100, false], "a finalized recording stops at its end");

  const live = run(initialState(data([0, 100, 200], { active: true, initialT: 200 })), { type: "toggle" }, { type: "advance", t: 300, skippedMs: 0 });
  assert.equal([live.t, live.playing, live.following], [200, true, true], "a followed live recording waits at its end for more");
  assert.is(run(s, { type: "buffering", on: true }, { type: "advance", t: 10, skippedMs: 0 }).buffering, false);
});

test("live updates: appended, the followed playhead moves to the new end, the final one ends following", () => {
  const s = initialState(data([0, 100, 200], { active: true, initialT: 200 }));
  const update: LiveUpdate = { events: [{ t: 3_000, kind: "event", label: "x", detail: "" }, { t: 3_000, kind: "render", label: "", detail: "" }], frames: [{ t: 3_000, e: 4 }], durationMs: 3_000, eventCount: 5 };
  const grown = reduce(s, { type: "live", update });
  assert.is(grown.timeline.events.length, 5);
  assert.is(grown.timeline.frames.length, 3);
  assert.equal([grown.t, grown.following], [3_000, true]);
  assert.equal(grown.gaps, [[200, 3_000]], "idle gaps follow the events");
  const notFollowing = reduce(reduce(s, { type: "seek", t: 0 }), { type: "live", update });
  assert.is(notFollowing.t, 0, "someone watching an earlier moment stays there");

  const status = { active: false, truncated: false, dropped: 0, recovered: false };
  const final = reduce(grown, { type: "live", update: { events: [], frames: [], durationMs: 3_000, eventCount: 5, final: { cacheKey: "k", sizeBytes: 1, status } } });
  assert.equal([final.following, final.timeline.status.active], [false, false]);
  const gone = reduce(s, { type: "gone" });
  assert.is(gone.timeline.status.active, false);
  assert.match(gone.notice, "without being kept");
});

test("the store changes synchronously and tells its listeners only about changes", () => {
  const store = new PlayerStore(initialState(data([0, 100, 200])));
  let told = 0;
  const unsubscribe = store.subscribe(() => told++);
  store.dispatch({ type: "toggle" });
  assert.is(store.state.playing, true, "read right after dispatch");
  store.dispatch({ type: "buffering", on: false });
  assert.is(told, 1, "no change, no news");
  unsubscribe();
  store.dispatch({ type: "toggle" });
  assert.is(told, 1);
});

test.run();
