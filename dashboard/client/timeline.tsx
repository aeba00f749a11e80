/**
 * Time at a glance: a density curve of the recording's events (renders left
 * out) and the scrubber, with a tick per event coloured by kind, idle gaps
 * shaded when they are skipped, and the playhead. A click or a drag seeks.
 */

import { useMemo, useRef } from "preact/hooks";
import { type EventRow, formatOffset, KIND_COLORS, type Kind } from "../shared.ts";
import { clamp } from "./player_store.ts";

const KINDS: Kind[] = ["mount", "event", "params", "info", "render", "island"];

export function Density(props: { events: EventRow[]; durationMs: number; t: number }) {
  const BINS = 120;
  const path = useMemo(() => {
    const counts = new Array<number>(BINS).fill(0);
    const d = Math.max(1, props.durationMs);
    for (const e of props.events) if (e.kind !== "render") counts[Math.min(BINS - 1, Math.floor((e.t / d) * BINS))]++;
    const max = Math.max(1, ...counts);
    let out = `M0 30`;
    counts.forEach((c, i) => {
      const y = 30 - (c / max) * 28;
      out += `L${(i * 1000) / BINS} ${y.toFixed(1)}L${((i + 1) * 1000) / BINS} ${y.toFixed(1)}`;
    });
    return out + "L1000 30Z";
  }, [props.events, props.durationMs]);
  const x = (props.t / Math.max(1, props.durationMs)) * 1000;
  return (
    <svg class="density" id="density" viewBox="0 0 1000 30" preserveAspectRatio="none" aria-label="Event density over time" role="img">
      <path d={path} fill="#c5cae9" stroke="#5c6bc0" stroke-width="1" vector-effect="non-scaling-stroke" />
      <line x1={x} x2={x} y1="0" y2="30" stroke="#d81b60" stroke-width="2" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

export function Scrubber(props: { events: EventRow[]; gaps: [number, number][]; durationMs: number; t: number; onSeek: (t: number) => void }) {
  const d = Math.max(1, props.durationMs);
  const ticks = useMemo(() => {
    const paths: Record<string, string> = {};
    for (const e of props.events) paths[e.kind] = (paths[e.kind] ?? "") + `M${((e.t / d) * 1000).toFixed(2)} ${e.kind === "render" ? 12 : 4}V28`;
    return paths;
  }, [props.events, d]);
  const ref = useRef<HTMLDivElement>(null);
  const at = (clientX: number) => {
    const rect = ref.current!.getBoundingClientRect();
    return (clamp(clientX - rect.left, 0, rect.width) / Math.max(1, rect.width)) * props.durationMs;
  };
  const x = (props.t / d) * 1000;
  return (
    <div
      class="scrubber"
      id="scrubber"
      ref={ref}
      role="slider"
      tabIndex={0}
      aria-label="Position in the recording"
      aria-valuemin={0}
      aria-valuemax={Math.round(props.durationMs)}
      aria-valuenow={Math.round(props.t)}
      aria-valuetext={formatOffset(props.t)}
      onPointerDown={(e) => {
        (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
        props.onSeek(at(e.clientX));
      }}
      onPointerMove={(e) => {
        if ((e.currentTarget as HTMLElement).hasPointerCapture(e.pointerId)) props.onSeek(at(e.clientX));
      }}
    >
      <svg viewBox="0 0 1000 32" preserveAspectRatio="none" aria-hidden="true">
        <rect x="0" y="0" width="1000" height="32" fill="#f4f5f9" />
        {props.gaps.map(([a, b]) => (
          <rect class="idle" x={(a / d) * 1000} width={((b - a) / d) * 1000} y="0" height="32" fill="#e0e0e0" />
        ))}
        <rect x="0" y="29" width={x} height="3" fill="#d81b60" />
        {KINDS.map((k) => ticks[k] && <path class={`ticks ticks-${k}`} d={ticks[k]} stroke={KIND_COLORS[k]} stroke-width="1.5" vector-effect="non-scaling-stroke" />)}
        <line x1={x} x2={x} y1="0" y2="32" stroke="#d81b60" stroke-width="3" vector-effect="non-scaling-stroke" />
      </svg>
      <div class="legend" aria-hidden="true">
        {KINDS.map((k) => (
          <span>
            <i style={`background:${KIND_COLORS[k]}`} />
            {k}
          </span>
        ))}
      </div>
    </div>
  );
}
