/**
 * The recorded view on the stage.
 *
 * Two iframes, one shown and one loading the next frame: swapping on load
 * avoids a blank flash between frames. Both are sandboxed with no permission
 * at all (no scripts, no forms, no popups, an opaque origin), and each frame's
 * document starts with its own policy (policy.ts): what a recording renders
 * is shown, never run.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { type FrameData, frameDocument } from "../shared.ts";

export function FrameView(props: { frameHead: string; frame?: FrameData }) {
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
