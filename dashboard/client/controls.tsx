/** The player's controls: step, play/pause, step, the clock, speeds, skip idle, live, the frame position and passing notices. */

import { formatOffset, SPEEDS } from "../shared.ts";
import type { PlayerAction, PlayerState } from "./player_store.ts";

export function Controls(props: { state: PlayerState; frameIndex: number; dispatch: (action: PlayerAction) => void }) {
  const { state, dispatch } = props;
  const { timeline, playing, speed, following } = state;
  const frameCount = timeline.frames.length;
  return (
    <div class="controls">
      <button type="button" id="prev" title="Previous event (←)" aria-label="Previous event" onClick={() => dispatch({ type: "step", direction: -1 })}>
        <Icon d="M3 3h2v10H3zM14 3v10L6 8z" />
      </button>
      <button type="button" id="play" class="primary" title="Play/pause (space)" aria-label={playing ? "Pause" : "Play"} onClick={() => dispatch({ type: "toggle" })}>
        <Icon d={playing ? "M3 2h4v12H3zM9 2h4v12H9z" : "M4 2v12l10-6z"} />
      </button>
      <button type="button" id="next" title="Next event (→)" aria-label="Next event" onClick={() => dispatch({ type: "step", direction: 1 })}>
        <Icon d="M11 3h2v10h-2zM2 3v10l8-5z" />
      </button>
      <span class="clock" id="clock">{formatOffset(state.t)} / {formatOffset(timeline.durationMs)}</span>
      <span class="speeds" role="group" aria-label="Speed">
        {SPEEDS.map((s) => (
          <button type="button" class="speed" data-speed={String(s)} aria-pressed={s === speed} onClick={() => dispatch({ type: "speed", speed: s })}>
            {s}×
          </button>
        ))}
      </span>
      <label class="skip">
        <input type="checkbox" id="skip-idle" checked={state.skipIdle} onChange={(e) => dispatch({ type: "skipIdle", on: (e.target as HTMLInputElement).checked })} /> skip idle
      </label>
      {timeline.status.active && (
        <button type="button" id="live" class={following ? "live on" : "live"} aria-pressed={following} onClick={() => dispatch({ type: "follow" })} title="Follow the recording as it happens">
          ● live
        </button>
      )}
      <span class="frame-pos" id="frame-pos">
        frame {frameCount ? props.frameIndex + 1 : 0} / {frameCount}
      </span>
      <span class="notice" id="notice">{state.notice}</span>
    </div>
  );
}

function Icon(props: { d: string }) {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d={props.d} fill="currentColor" />
    </svg>
  );
}
