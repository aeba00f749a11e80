/**
 * The recording's events, the current one highlighted and kept in view while
 * playing; a click seeks to it. Virtualized: only the rows in view (and a few
 * around them) are in the DOM, so a recording of thousands of events scrolls
 * as fast as one of ten.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { type EventRow, formatOffset, KIND_COLORS } from "../shared.ts";

const ROW_HEIGHT = 26;
const LIST_HEIGHT = 312;

export function EventList(props: { events: EventRow[]; current: number; onPick: (e: EventRow) => void }) {
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
