/**
 * One recording from the segments several instances wrote of it.
 *
 * A session's requests may each land on a different instance; each instance
 * appends the frames it recorded to the store as segments. This module is the
 * one place that puts them back together, for finalization and for reading a
 * recording while it is active. Invariants:
 *
 * - Order: frames sort by `seq` (the session's request counter, carried in the
 *   cookie, so every instance agrees on it), then by `t`, then by segment key
 *   and position, which keeps one instance's frames of one request in the order
 *   it wrote them. Offsets are then made non-decreasing: instances' clocks may
 *   differ by a few milliseconds. A recording finalized earlier takes part with
 *   its stored seqs, so a segment that reached the store late (its instance
 *   had not flushed yet when another finalized) still lands in its place.
 * - Deltas never span instances: the recorder writes a full snapshot whenever
 *   the previous frame of the recording may have been written elsewhere, so
 *   applying frames in this order rebuilds the assigns exactly.
 * - A recording starts with its mount. While the mount is missing (its
 *   instance was killed before its segment reached the store, and its journal
 *   is not recovered yet), the first snapshot stands in for it, stored with
 *   seq 0 so that the real mount replaces it when it arrives; the recording is
 *   marked recovered.
 * - Nothing is parsed but start frames and, in that rare case, one snapshot.
 * - A summary's `eventNames` are bounded: at most MAX_EVENT_NAMES distinct
 *   names (the first ones seen) of at most MAX_EVENT_NAME_CHARS each. Names come
 *   from request headers and form fields, so a client could otherwise grow every
 *   summary (and the index that lists them all) without bound; the events
 *   themselves keep their (recorder-truncated) names.
 */

import { FrameKind, isEventKind, isInteraction, parseFrameHeader, type StartMeta } from "./events.ts";
import type { RecordingColumns, RecordingMeta } from "./recording_file.ts";

/** Longest event name kept; the recorder truncates longer ones (a header or form field names them). */
export const MAX_EVENT_NAME_CHARS = 200;
/** Most distinct event names kept in one recording's summary. */
export const MAX_EVENT_NAMES = 100;

/** `name` cut to MAX_EVENT_NAME_CHARS, never in the middle of a surrogate pair. */
export function truncateEventName(name: string): string {
  if (name.length <= MAX_EVENT_NAME_CHARS) return name;
  const cut = /[\uD800-\uDBFF]/.test(name[MAX_EVENT_NAME_CHARS - 1]) ? MAX_EVENT_NAME_CHARS - 1 : MAX_EVENT_NAME_CHARS;
  return name.slice(0, cut);
}

export interface SegmentText {
  key: string;
  text: string;
}

export interface AssembledRecording {
  meta: RecordingMeta;
  columns: RecordingColumns;
  /** User events and navigations: a recording without any is discarded. */
  interactions: number;
}

interface Placed {
  seq: number;
  t: number;
  key: string;
  index: number;
  kind: string;
  label: string;
  payload: string;
}

/**
 * Merges segments, after `base` (the recording as finalized earlier, when more
 * segments came in since). Undefined when there is nothing to replay.
 */
export function assembleSegments(
  id: string,
  segments: SegmentText[],
  base?: { meta: RecordingMeta; columns: RecordingColumns },
): AssembledRecording | undefined {
  let mountMeta: StartMeta | undefined;
  let firstMeta: StartMeta | undefined;
  let truncated = base?.meta.truncated ?? false;
  let recovered = base?.meta.recovered ?? false;
  let dropped = base?.meta.dropped ?? 0;
  const placed: Placed[] = [];
  for (const segment of segments) {
    let index = 0;
    for (const line of segment.text.split("\n")) {
      const h = parseFrameHeader(line);
      if (!h || h.id !== id) continue;
      const rest = line.slice(h.payloadAt);
      if (h.kind === FrameKind.start) {
        const meta = JSON.parse(rest) as StartMeta;
        firstMeta ??= meta;
        if (!meta.resumed) mountMeta ??= meta;
      } else if (isEventKind(h.kind)) {
        placed.push({ seq: h.seq, t: h.t, key: segment.key, index: index++, kind: h.kind, label: h.label, payload: rest });
      } else if (h.kind === FrameKind.truncated) truncated = true;
      else if (h.kind === FrameKind.dropped) dropped += Number(h.label) || 0;
      else if (h.kind === FrameKind.recovered) recovered = true;
    }
  }
  if (base) placed.push(...placedOf(base.columns));
  placed.sort((a, b) => a.seq - b.seq || a.t - b.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));

  const columns: RecordingColumns = { kinds: "", offsets: [], labels: [], payloads: [], seqs: [] };
  const meta = base?.meta ?? startMeta(id, mountMeta ?? firstMeta);
  if (!meta) return undefined;
  const eventNames = new Set((base?.meta.eventNames ?? []).slice(0, MAX_EVENT_NAMES));
  let interactions = 0;
  let lastT = 0;
  // A mount stood in for by a snapshot (seq 0) gives way once the real one arrives.
  const realMount = placed.some((f) => f.kind === FrameKind.mount && f.seq > 0);
  const frames = realMount ? placed.filter((f) => !(f.kind === FrameKind.mount && f.seq === 0)) : placed;
  if (frames.length && frames[0].kind !== FrameKind.mount) {
    const snapshot = frames.find((f) => f.kind === FrameKind.keyframe);
    if (!snapshot) return undefined; // nothing to replay from, yet
    frames.unshift({ ...snapshot, seq: 0, t: frames[0].t, kind: FrameKind.mount, label: "", payload: mountFromSnapshot(meta.url, snapshot.payload) });
    recovered = true;
  }
  for (const f of frames) {
    const { kind, payload } = f;
    lastT = Math.max(lastT, f.t);
    columns.seqs!.push(f.seq);
    columns.kinds += kind;
    columns.offsets.push(lastT);
    if (kind === FrameKind.event || kind === FrameKind.info) columns.labels.push(f.label);
    columns.payloads.push(payload);
    if (isInteraction(kind)) interactions++;
    if (kind === FrameKind.event && eventNames.size < MAX_EVENT_NAMES) eventNames.add(truncateEventName(f.label));
  }
  if (columns.kinds.length === 0) return undefined;
  return {
    meta: {
      ...meta,
      durationMs: lastT,
      eventCount: columns.kinds.length,
      eventNames: [...eventNames],
      truncated,
      dropped,
      recovered,
    },
    columns,
    interactions,
  };
}

function startMeta(id: string, meta: StartMeta | undefined): RecordingMeta | undefined {
  if (!meta) return undefined;
  return {
    id,
    view: meta.view,
    url: meta.url,
    sessionKey: meta.sessionKey,
    startedAt: meta.startedAt,
    durationMs: 0,
    eventCount: 0,
    eventNames: [],
    truncated: false,
    dropped: 0,
    recovered: false,
    format: meta.format,
  };
}

/** A stored recording's events as placed frames; without stored seqs, before everything else, in order. */
function placedOf(columns: RecordingColumns): Placed[] {
  const out: Placed[] = [];
  let label = 0;
  for (let i = 0; i < columns.kinds.length; i++) {
    const kind = columns.kinds[i];
    const hasLabel = kind === FrameKind.event || kind === FrameKind.info;
    out.push({
      seq: columns.seqs?.[i] ?? -1,
      t: columns.offsets[i],
      key: "",
      index: i,
      kind,
      label: hasLabel ? columns.labels[label++] : "",
      payload: columns.payloads[i],
    });
  }
  return out;
}

/** A keyframe payload `[assigns, removed, hash?]` as a mount payload `[url, params, session, assigns, hash?]`. */
function mountFromSnapshot(url: string, keyframe: string): string {
  const [assigns, , hash] = JSON.parse(keyframe) as [unknown, unknown, string?];
  return "[" + JSON.stringify(url) + ",{},null," + JSON.stringify(assigns) + (hash ? "," + JSON.stringify(hash) : "") + "]";
}
