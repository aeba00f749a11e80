/**
 * What the player does beyond rendering its state: the playback clock,
 * fetching frames ahead, following a live recording, the keyboard, the
 * address bar and passing notices. Each effect reads `store.state` when it
 * runs and changes it only by dispatching (player_store.ts), so none holds a
 * copy of the state that could go stale. None runs on the server: the page is
 * rendered from the initial state.
 */

import { useEffect, useReducer } from "preact/hooks";
import { lastAtOrBefore, type LiveUpdate, type PlayerData } from "../shared.ts";
import { nextTime, type PlayerState, type PlayerStore } from "./player_store.ts";
import type { FrameSource } from "./static_frames.ts";

/** The store's current state; re-renders the component whenever it changes. */
export function useStoreState(store: PlayerStore): PlayerState {
  const [, rerender] = useReducer((n: number, _: void) => n + 1, 0);
  const rendered = store.state;
  useEffect(() => {
    const unsubscribe = store.subscribe(() => rerender());
    if (store.state !== rendered) rerender(); // changed between this render and the subscription
    return unsubscribe;
  }, [store]);
  return store.state;
}

/** Frames arrive asynchronously: re-render when they do. */
export function useFrameArrivals(store: PlayerStore, source: FrameSource): void {
  useEffect(() => {
    source.onChange = () => store.dispatch({ type: "framesArrived" });
    return () => void (source.onChange = undefined);
  }, [source]);
}

/** Fetches ahead of the playhead (more at higher speeds) and one frame behind (for its diff); after every render. */
export function useFetchAhead(source: FrameSource, frameIndex: number, speed: number, batchSize: number): void {
  useEffect(() => {
    source.ensure(frameIndex - 1, frameIndex + Math.max(20, Math.ceil(batchSize / 2) * Math.max(1, speed)));
  });
}

/** The clock: recorded timing, scaled by the speed, idle gaps skipped, waiting for frames not fetched yet. */
export function usePlaybackClock(store: PlayerStore, source: FrameSource, playing: boolean, batchSize: number): void {
  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let raf = 0;
    const tick = (now: number) => {
      const state = store.state;
      if (!state.playing) return;
      const dt = Math.min(now - last, 250); // a tab in the background must not jump ahead on its return
      last = now;
      const { t, skippedMs } = nextTime(state, dt);
      const target = lastAtOrBefore(state.timeline.frames, t);
      if (target >= 0 && !source.get(target)) {
        source.ensure(target, target + batchSize);
        store.dispatch({ type: "buffering", on: true });
      } else {
        store.dispatch({ type: "advance", t, skippedMs });
      }
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(raf);
      store.dispatch({ type: "buffering", on: false });
    };
  }, [playing, source]);
}

/** A notice shows for 1.5 s. */
export function useNoticeTimeout(store: PlayerStore, notice: string): void {
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => store.dispatch({ type: "notice", text: "" }), 1500);
    return () => clearTimeout(timer);
  }, [notice]);
}

/** ?t= in the address bar whenever playback rests, so a moment can be shared. */
export function useTimeInAddressBar(data: PlayerData, playing: boolean, t: number): void {
  useEffect(() => {
    if (playing || data.mode !== "server" || typeof history === "undefined") return;
    const url = new URL(location.href);
    url.searchParams.set("t", String(Math.round(t)));
    history.replaceState(history.state, "", url);
  }, [playing, t]);
}

/** An active recording's new events, over server-sent events, until it is finalized (or gone). */
export function useLiveFollow(store: PlayerStore, source: FrameSource, data: PlayerData): void {
  useEffect(() => {
    if (!data.status.active || !data.endpoints || typeof EventSource === "undefined") return;
    const es = new EventSource(`${data.endpoints.live}?after=${data.eventCount}`);
    es.addEventListener("update", (message) => {
      const update = JSON.parse((message as MessageEvent).data) as LiveUpdate;
      store.dispatch({ type: "live", update });
      source.frameCount = store.state.timeline.frames.length;
      if (update.final) {
        source.cacheKey = update.final.cacheKey; // finalized: its frames may be cached from now on
        es.close();
      }
    });
    es.addEventListener("gone", () => {
      es.close();
      store.dispatch({ type: "gone" });
    });
    return () => es.close();
  }, []);
}

const FORM_FIELD = /^(INPUT|SELECT|TEXTAREA)$/;

/** Space plays/pauses, ←/→ step between events, Home/End: anywhere but in a form field. */
export function useKeyboard(store: PlayerStore): void {
  useEffect(() => {
    const { dispatch } = store;
    const actions: Record<string, () => void> = {
      " ": () => dispatch({ type: "toggle" }),
      ArrowLeft: () => dispatch({ type: "step", direction: -1 }),
      ArrowRight: () => dispatch({ type: "step", direction: 1 }),
      Home: () => dispatch({ type: "seek", t: 0 }),
      End: () => dispatch({ type: "seek", t: store.state.timeline.durationMs }),
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const el = e.target as HTMLElement | null;
      if (el && (el.isContentEditable || FORM_FIELD.test(el.tagName))) return;
      const action = actions[e.key];
      if (!action) return;
      e.preventDefault();
      if (!(e.key === " " && e.repeat)) action();
    };
    // Space's keyup would scroll the page (or press a focused button) after it toggled playback.
    const onKeyUp = (e: KeyboardEvent) => {
      if (e.key === " " && !FORM_FIELD.test((e.target as HTMLElement)?.tagName ?? "")) e.preventDefault();
    };
    addEventListener("keydown", onKey);
    addEventListener("keyup", onKeyUp);
    return () => {
      removeEventListener("keydown", onKey);
      removeEventListener("keyup", onKeyUp);
    };
  }, [store]);
}
