/**
 * The player: the recorded view in a sandboxed iframe moving through time, a
 * density timeline, a scrubber with a tick per event, controls, the event list
 * and the assigns inspector. Rendered once on the server (the first state, so
 * the page is complete before any script runs) and then by the client module.
 *
 * Everything recorded is shown as text through Preact (escaped) or as the
 * iframe's srcdoc (a separate, sandboxed document without scripts).
 */

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  type EventRow,
  type FrameData,
  type FrameMeta,
  formatOffset,
  frameDocument,
  idleGaps,
  KIND_COLORS,
  type Kind,
  lastAtOrBefore,
  type LiveUpdate,
  type PlayerData,
  type RecordingStatus,
  SPEEDS,
  skipIdle,
} from "../shared.ts";
import { type FrameSource, StaticFrames } from "./static_frames.ts";

const ROW_HEIGHT = 26;
const LIST_HEIGHT = 312;
const KINDS: Kind[] = ["mount", "event", "params", "info", "render", "island"];

interface TimelineState {
  events: EventRow[];
  frames: FrameMeta[];
  durationMs: number;
  eventCount: number;
  status: RecordingStatus;
}

export function PlayerApp(props: { data: PlayerData; source?: FrameSource }) {
  const { data } = props;
  const source = useMemo<FrameSource>(() => props.source ?? new StaticFrames(data.initialFrames, data.frames.length), [props.source]);
  const [timeline, setTimeline] = useState<TimelineState>(() => ({
    events: data.events,
    frames: data.frames,
    durationMs: data.durationMs,
    eventCount: data.eventCount,
    status: data.status,
  }));
  const [t, setT] = useState(clamp(data.initialT, 0, data.durationMs));
  const [playing, setPlayingState] = useState(false);
  // Set synchronously, so the playback loop stops at once (effect cleanups run a frame later).
  const playingRef = useRef(false);
  const setPlaying = (on: boolean) => {
    playingRef.current = on;
    setPlayingState(on);
  };
  const [speed, setSpeed] = useState(1);
  const [skip, setSkip] = useState(true);
  const [following, setFollowing] = useState(data.status.active && data.endpoints !== undefined && data.initialT >= data.durationMs);
  const [notice, setNotice] = useState("");
  const [skippedMs, setSkippedMs] = useState(0);
  const [buffering, setBuffering] = useState(false);
  const [, setVersion] = useState(0);

  // The playback loop reads the latest values through refs, so it need not restart.
  const tRef = useRef(t);
  const live = useRef({ timeline, speed, skip, following, playing });
  live.current = { timeline, speed, skip, following, playing };

  const gaps = useMemo(() => idleGaps(timeline.events), [timeline.events]);
  const frameCount = timeline.frames.length;
  const frameIndex = Math.max(0, lastAtOrBefore(timeline.frames, t));
  const eventIndex = lastAtOrBefore(timeline.events, t);

  const seek = (to: number, keepFollowing = false) => {
    const next = clamp(to, 0, live.current.timeline.durationMs);
    tRef.current = next;
    setT(next);
    if (!keepFollowing) setFollowing(false);
  };

  // Frames arrive asynchronously: re-render when they do.
  useEffect(() => {
    source.onChange = () => setVersion((v) => v + 1);
    return () => void (source.onChange = undefined);
  }, [source]);

  // Fetch ahead of the playhead, more at higher speeds, and one behind for the diff.
  useEffect(() => {
    source.ensure(frameIndex - 1, frameIndex + Math.max(20, Math.ceil(data.batchSize / 2) * Math.max(1, speed)));
  });

  // The clock: recorded timing, scaled by the speed, idle gaps skipped, waiting for frames not yet fetched.
  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let raf = 0;
    const step = (now: number) => {
      if (!playingRef.current) return;
      const { timeline, speed, skip, following } = live.current;
      const dt = Math.min(now - last, 250);
      last = now;
      let next = tRef.current + dt * speed;
      if (skip) {
        const skipped = skipIdle(gaps, next);
        if (skipped !== next) {
          setNotice(`skipped ${((skipped - next) / 1000).toFixed(1)} s of idle time`);
          setSkippedMs((ms) => ms + skipped - next);
          next = skipped;
        }
      }
      const target = lastAtOrBefore(timeline.frames, next);
      if (target >= 0 && !source.get(target)) {
        source.ensure(target, target + data.batchSize);
        setBuffering(true);
      } else {
        setBuffering(false);
        if (next >= timeline.durationMs) {
          seek(timeline.durationMs, following);
          if (!timeline.status.active || !following) {
            setPlaying(false);
            return;
          }
        } else {
          seek(next, true);
        }
      }
      raf = requestAnimationFrame(step);
    };
    raf = requestAnimationFrame(step);
    return () => {
      cancelAnimationFrame(raf);
      setBuffering(false);
    };
  }, [playing, gaps, source]);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(""), 1500);
    return () => clearTimeout(timer);
  }, [notice]);

  // ?t= in the address bar whenever playback rests, so a moment can be shared.
  useEffect(() => {
    if (playing || data.mode !== "server" || typeof history === "undefined") return;
    const url = new URL(location.href);
    url.searchParams.set("t", String(Math.round(t)));
    history.replaceState(history.state, "", url);
  }, [playing, t]);

  // Live follow: new events of an active recording arrive over server-sent events.
  useEffect(() => {
    if (!data.status.active || !data.endpoints || typeof EventSource === "undefined") return;
    const es = new EventSource(`${data.endpoints.live}?after=${data.eventCount}`);
    es.addEventListener("update", (message) => {
      const update = JSON.parse((message as MessageEvent).data) as LiveUpdate;
      const current = live.current.timeline;
      const next: TimelineState = {
        events: update.events.length ? [...current.events, ...update.events] : current.events,
        frames: update.frames.length ? [...current.frames, ...update.frames] : current.frames,
        durationMs: Math.max(current.durationMs, update.durationMs),
        eventCount: update.eventCount,
        status: update.final ? update.final.status : current.status,
      };
      source.frameCount = next.frames.length;
      if (update.final) {
        source.cacheKey = update.final.cacheKey;
        es.close();
      }
      live.current.timeline = next;
      setTimeline(next);
      if (live.current.following) seek(next.durationMs, !update.final);
    });
    es.addEventListener("gone", () => {
      es.close();
      setNotice("the recording ended without being kept");
      setTimeline((s) => ({ ...s, status: { ...s.status, active: false } }));
    });
    return () => es.close();
  }, []);

  const toggle = () => {
    if (playingRef.current) {
      setPlaying(false);
      return;
    }
    if (tRef.current >= live.current.timeline.durationMs && !live.current.following) seek(0);
    setPlaying(true);
  };
  const prevEvent = () => {
    const events = live.current.timeline.events;
    const i = lastAtOrBefore(events, tRef.current - 1);
    seek(i >= 0 ? events[i].t : 0);
  };
  const nextEvent = () => {
    const events = live.current.timeline.events;
    const i = lastAtOrBefore(events, tRef.current) + 1;
    seek(i < events.length ? events[i].t : live.current.timeline.durationMs);
  };
  const follow = () => {
    setFollowing(true);
    seek(live.current.timeline.durationMs, true);
  };

  // Keyboard: space, ←/→, Home/End, anywhere but in a form field.
  const keys = useRef({ toggle, prevEvent, nextEvent, seek });
  keys.current = { toggle, prevEvent, nextEvent, seek };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const el = e.target as HTMLElement | null;
      if (el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName))) return;
      const k = keys.current;
      const actions: Record<string, () => void> = {
        " ": k.toggle,
        ArrowLeft: k.prevEvent,
        ArrowRight: k.nextEvent,
        Home: () => k.seek(0),
        End: () => k.seek(live.current.timeline.durationMs),
      };
      const action = actions[e.key];
      if (!action) return;
      e.preventDefault();
      if (!(e.key === " " && e.repeat)) action();
    };
    const onKeyUp = (e: KeyboardEvent) => {
      if (e.key === " " && !(e.target as HTMLElement)?.tagName?.match(/^(INPUT|SELECT|TEXTAREA)$/)) e.preventDefault();
    };
    addEventListener("keydown", onKey);
    addEventListener("keyup", onKeyUp);
    return () => {
      removeEventListener("keydown", onKey);
      removeEventListener("keyup", onKeyUp);
    };
  }, []);

  // The frame on screen: the one at t, or the nearest loaded one before it while fetching.
  const shown = useRef<FrameData | undefined>(undefined);
  const exact = source.get(frameIndex);
  if (exact) shown.current = exact;
  else if (!shown.current) shown.current = data.initialFrames[0];
  const frame = shown.current;

  return (
    <div
      class={"player" + (playing ? " playing" : "")}
      id="player"
      data-t={String(t)}
      data-frame={String(frameIndex)}
      data-playing={String(playing)}
      data-speed={String(speed)}
      data-following={String(following)}
      data-skipped={String(Math.round(skippedMs))}
    >
      <div class="stage">
        <FrameView frameHead={data.frameHead} frame={frame} />
        {(!exact || buffering) && <div class="loading">loading frame {frameIndex + 1}…</div>}
      </div>
      <div class="timeline">
        <Density events={timeline.events} durationMs={timeline.durationMs} t={t} />
        <Scrubber events={timeline.events} gaps={skip ? gaps : []} durationMs={timeline.durationMs} t={t} onSeek={(to) => seek(to)} />
      </div>
      <div class="controls">
        <button type="button" id="prev" title="Previous event (←)" aria-label="Previous event" onClick={prevEvent}><Icon d="M3 3h2v10H3zM14 3v10L6 8z" /></button>
        <button type="button" id="play" class="primary" title="Play/pause (space)" aria-label={playing ? "Pause" : "Play"} onClick={toggle}>
          <Icon d={playing ? "M3 2h4v12H3zM9 2h4v12H9z" : "M4 2v12l10-6z"} />
        </button>
        <button type="button" id="next" title="Next event (→)" aria-label="Next event" onClick={nextEvent}><Icon d="M11 3h2v10h-2zM2 3v10l8-5z" /></button>
        <span class="clock" id="clock">{formatOffset(t)} / {formatOffset(timeline.durationMs)}</span>
        <span class="speeds" role="group" aria-label="Speed">
          {SPEEDS.map((s) => (
            <button type="button" class="speed" data-speed={String(s)} aria-pressed={s === speed} onClick={() => setSpeed(s)}>
              {s}×
            </button>
          ))}
        </span>
        <label class="skip">
          <input type="checkbox" id="skip-idle" checked={skip} onChange={(e) => setSkip((e.target as HTMLInputElement).checked)} /> skip idle
        </label>
        {timeline.status.active && (
          <button type="button" id="live" class={following ? "live on" : "live"} aria-pressed={following} onClick={follow} title="Follow the recording as it happens">
            ● live
          </button>
        )}
        <span class="frame-pos" id="frame-pos">
          frame {frameCount ? frameIndex + 1 : 0} / {frameCount}
        </span>
        <span class="notice" id="notice">{notice}</span>
      </div>
      <div class="panels">
        <EventList events={timeline.events} current={eventIndex} onPick={(ev) => seek(ev.t)} />
        <Inspector frame={frame} />
      </div>
    </div>
  );
}

/**
 * Two iframes, one shown and one loading the next frame: swapping on load
 * avoids a blank flash between frames. Both are sandboxed with no permission
 * at all: no scripts, no forms, no popups, an opaque origin.
 */
function FrameView(props: { frameHead: string; frame?: FrameData }) {
  const { frame } = props;
  const doc = frame ? frameDocument(props.frameHead, frame.html) : "";
  const index = frame?.i ?? -1;
  const [slots, setSlots] = useState<Slot[]>(() => [{ doc, index, loaded: true }, { doc: "", index: -1, loaded: false }]);
  const [front, setFront] = useState(0);
  const wanted = useRef(index);
  wanted.current = index;

  useEffect(() => {
    const shown = slots[front];
    if (shown.index === index && shown.doc === doc) return;
    const back = 1 - front;
    const other = slots[back];
    if (other.index === index && other.doc === doc) {
      // Already there (going back to the frame shown before): swap now, or when it finishes loading.
      if (other.loaded) setFront(back);
      return;
    }
    setSlots((s) => s.map((slot, i) => (i === back ? { doc, index, loaded: false } : slot)));
  }, [doc, index, front, slots]);

  const loaded = (slot: number) => {
    setSlots((s) => s.map((x, i) => (i === slot ? { ...x, loaded: true } : x)));
    if (slot !== front && slots[slot].index === wanted.current && slots[slot].index >= 0) setFront(slot);
  };

  return (
    <div class="frames">
      {slots.map((s, slot) => (
        <iframe
          sandbox=""
          referrerpolicy="no-referrer"
          title={slot === front ? "Recorded frame" : "Next frame (loading)"}
          class={slot === front ? "frame front" : "frame back"}
          data-front={slot === front ? "true" : undefined}
          data-frame-index={String(s.index)}
          aria-hidden={slot === front ? undefined : "true"}
          tabIndex={slot === front ? undefined : -1}
          srcdoc={s.doc}
          onLoad={() => loaded(slot)}
        />
      ))}
    </div>
  );
}

interface Slot {
  doc: string;
  index: number;
  loaded: boolean;
}

function Density(props: { events: EventRow[]; durationMs: number; t: number }) {
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

function Scrubber(props: { events: EventRow[]; gaps: [number, number][]; durationMs: number; t: number; onSeek: (t: number) => void }) {
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

function EventList(props: { events: EventRow[]; current: number; onPick: (e: EventRow) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(() => Math.max(0, props.current * ROW_HEIGHT - LIST_HEIGHT / 2));
  // Follow playback: keep the current event in view.
  useEffect(() => {
    const el = ref.current;
    if (!el || props.current < 0) return;
    const top = props.current * ROW_HEIGHT;
    if (top < el.scrollTop || top + ROW_HEIGHT > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, top - el.clientHeight / 2);
      setScrollTop(el.scrollTop);
    }
  }, [props.current]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - 8);
  const last = Math.min(props.events.length, first + Math.ceil(LIST_HEIGHT / ROW_HEIGHT) + 16);
  const rows = [];
  for (let i = first; i < last; i++) {
    const e = props.events[i];
    rows.push(
      <div
        key={i}
        class={`event kind-${e.kind}` + (i === props.current ? " current" : "") + (i > props.current ? " future" : "")}
        data-index={String(i)}
        data-kind={e.kind}
        style={`top:${i * ROW_HEIGHT}px`}
        role="button"
        aria-current={i === props.current ? "true" : undefined}
        title={e.detail ? `${e.label}  ${e.detail}` : e.label}
        onClick={() => props.onPick(e)}
      >
        <span class="offset">{formatOffset(e.t)}</span>
        <span class="kind" style={`background:${KIND_COLORS[e.kind]}`}>{e.kind}</span>
        <span class="label">{e.label}</span>
        <span class="detail">{e.detail}</span>
      </div>,
    );
  }
  return (
    <section class="events-panel">
      <h2>Events <small>{props.events.length}</small></h2>
      <div
        class="event-list"
        id="event-list"
        ref={ref}
        style={`height:${LIST_HEIGHT}px`}
        onScroll={(e) => setScrollTop((e.currentTarget as HTMLElement).scrollTop)}
      >
        <div class="event-spacer" style={`height:${props.events.length * ROW_HEIGHT}px`}>{rows}</div>
      </div>
    </section>
  );
}

function Inspector(props: { frame?: FrameData }) {
  const { frame } = props;
  if (!frame) return <section class="inspector" id="inspector"><h2>Assigns</h2><p class="muted">loading…</p></section>;
  const changed = new Set(frame.changed);
  return (
    <section class="inspector" id="inspector" data-frame={String(frame.i)}>
      <h2>
        Assigns <small>frame {frame.i + 1} · {formatOffset(frame.t)}</small>{" "}
        {frame.identical === true && <span class="badge ok" title="The re-render is byte-identical to the HTML that was served">identical</span>}
        {frame.identical === false && <span class="badge bad" title="The re-render differs from the HTML that was served">differs</span>}
      </h2>
      <table class="assigns">
        <tbody>
          {frame.assigns.map(([key, text]) => (
            <tr class={changed.has(key) ? "changed" : undefined} data-key={key}>
              <th>{key}{changed.has(key) && <span class="dot" title="changed by this render">●</span>}</th>
              <td><pre>{text}</pre></td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Diff against the previous frame</h3>
      {frame.i === 0 ? (
        <p class="muted" id="diff">first frame (mount)</p>
      ) : frame.diff.length === 0 ? (
        <p class="muted" id="diff">no assign changed</p>
      ) : (
        <div class="diff" id="diff">
          {frame.diff.map((d) => (
            <div class="diff-entry" data-key={d.key}>
              <div class="diff-key">{d.key}{d.before === undefined ? " (added)" : d.after === undefined ? " (removed)" : ""}</div>
              {d.before !== undefined && <pre class="del">{d.before}</pre>}
              {d.after !== undefined && <pre class="add">{d.after}</pre>}
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

function Icon(props: { d: string }) {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d={props.d} fill="currentColor" />
    </svg>
  );
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
