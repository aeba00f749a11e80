/**
 * The player: the recorded view in a sandboxed iframe moving through time, a
 * density timeline, a scrubber with a tick per event, controls, the event list
 * and the assigns inspector. Rendered once on the server (the first state, so
 * the page is complete before any script runs) and then by the client module.
 *
 * This component only assembles: the state is one store (player_store.ts),
 * what the player does over time are effects (player_effects.ts), and each
 * part of the screen is a component of its own.
 *
 * Everything recorded is shown as text through Preact (escaped) or as the
 * iframe's srcdoc (a separate, sandboxed document without scripts).
 */

import { useMemo, useRef, useState } from "preact/hooks";
import { type FrameData, lastAtOrBefore, type PlayerData } from "../shared.ts";
import { Controls } from "./controls.tsx";
import { EventList } from "./event_list.tsx";
import { FrameView } from "./frame_view.tsx";
import { Inspector } from "./inspector.tsx";
import {
  useFetchAhead,
  useFrameArrivals,
  useKeyboard,
  useLiveFollow,
  useNoticeTimeout,
  usePlaybackClock,
  useStoreState,
  useTimeInAddressBar,
} from "./player_effects.ts";
import { initialState, PlayerStore } from "./player_store.ts";
import { type FrameSource, StaticFrames } from "./static_frames.ts";
import { Density, Scrubber } from "./timeline.tsx";

export function PlayerApp(props: { data: PlayerData; source?: FrameSource }) {
  const { data } = props;
  const source = useMemo<FrameSource>(() => props.source ?? new StaticFrames(data.initialFrames, data.frames.length), [props.source]);
  const [store] = useState(() => new PlayerStore(initialState(data)));
  const state = useStoreState(store);
  const { timeline, t, playing } = state;
  const frameIndex = Math.max(0, lastAtOrBefore(timeline.frames, t));

  useFrameArrivals(store, source);
  useFetchAhead(source, frameIndex, state.speed, data.batchSize);
  usePlaybackClock(store, source, playing, data.batchSize);
  useNoticeTimeout(store, state.notice);
  useTimeInAddressBar(data, playing, t);
  useLiveFollow(store, source, data);
  useKeyboard(store);

  // The frame on screen: the one at t, or the nearest loaded one before it while fetching.
  const shown = useRef<FrameData | undefined>(undefined);
  const exact = source.get(frameIndex);
  if (exact) shown.current = exact;
  else if (!shown.current) shown.current = data.initialFrames[0];
  const frame = shown.current;
  const seek = (to: number) => store.dispatch({ type: "seek", t: to });

  return (
    <div
      class={"player" + (playing ? " playing" : "")}
      id="player"
      data-t={String(t)}
      data-frame={String(frameIndex)}
      data-playing={String(playing)}
      data-speed={String(state.speed)}
      data-following={String(state.following)}
      data-skipped={String(Math.round(state.skippedMs))}
    >
      <div class="stage">
        <FrameView frameHead={data.frameHead} frame={frame} />
        {(!exact || state.buffering) && <div class="loading">loading frame {frameIndex + 1}…</div>}
      </div>
      <div class="timeline">
        <Density events={timeline.events} durationMs={timeline.durationMs} t={t} />
        <Scrubber events={timeline.events} gaps={state.skipIdle ? state.gaps : []} durationMs={timeline.durationMs} t={t} onSeek={seek} />
      </div>
      <Controls state={state} frameIndex={frameIndex} dispatch={store.dispatch} />
      <div class="panels">
        <EventList events={timeline.events} current={lastAtOrBefore(timeline.events, t)} onPick={(ev) => seek(ev.t)} />
        <Inspector frame={frame} />
      </div>
    </div>
  );
}
