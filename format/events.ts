/**
 * The single event format. A recording is one view within one browser session,
 * the analogue of one LiveView process; its events are the state transitions.
 */

import type { Format } from "./codec.ts";

export type Params = Record<string, unknown>;
export type Assigns = Record<string, unknown>;

export type ReplayEvent =
  /** First render of the view in the session. Its assigns are the first frame. */
  | { kind: "mount"; t: number; url: string; params: Params; session: unknown; assigns: Assigns; htmlHash?: string }
  /** A user action: a form post or a fetch-driven partial (non-GET request). */
  | { kind: "event"; t: number; name: string; params: Params }
  /** A later GET of the same view: navigation or a query change. */
  | { kind: "params"; t: number; url: string; params: Params }
  /** A server push (SSE, WebSocket): a type marker only. */
  | { kind: "info"; t: number; type: string }
  /**
   * A render after the mount. `changed` holds the top-level assigns whose value
   * changed and `removed` the keys that disappeared; when `full` is true,
   * `changed` is the complete assigns (a keyframe, or a snapshot that was smaller).
   */
  | { kind: "render"; t: number; changed: Assigns; removed: string[]; full: boolean; htmlHash?: string }
  /**
   * A client-side island's recorded state changed (islands/): the keys that
   * changed, or with `load` its whole state when the page (re)loaded it.
   * `htmlHash` is the browser's hash of the island's canonical content.
   */
  | { kind: "island"; t: number; island: string; state: Params; load: boolean; htmlHash?: string };

/** What a store lists without reading a recording's events. */
export interface RecordingSummary {
  id: string;
  view: string;
  url: string;
  /** A short hash of the session cookie: groups the recordings of one session, reveals nothing. */
  sessionKey: string;
  /** Epoch milliseconds of the mount. */
  startedAt: number;
  durationMs: number;
  eventCount: number;
  /** Distinct names of the user events, for filtering. */
  eventNames: string[];
  /** Events past `maxEvents` were not recorded. */
  truncated: boolean;
  /** Events lost because the ring and its overflow were full. */
  dropped: number;
  /** Not ended normally: rebuilt from a crashed instance's journal, or finalized by the store sweep after its instances vanished. */
  recovered: boolean;
  format: Format;
  /** Compressed size on disk; 0 while active. */
  sizeBytes: number;
}

export interface Recording extends RecordingSummary {
  events: ReplayEvent[];
}

/**
 * Frames: how an event travels through the ring, the journal and the store's
 * segments. One line of text, `id \t kind \t t \t seq \t label \t payload`,
 * where payload is codec JSON. The worker routes and counts frames by the header
 * alone and never parses the payload of a render, which is what keeps draining
 * fast.
 *
 * `seq` is the session's request counter for the recording (carried in the
 * session cookie, so every instance agrees on it): segments written by several
 * instances merge in `seq` order, then `t`. Frames of one request share a seq.
 */
export const FrameKind = {
  start: "s",
  mount: "m",
  event: "e",
  params: "p",
  info: "i",
  render: "r",
  keyframe: "f",
  /** An island's state changed in the browser (islands/recorder.ts): `[island, state, hash?]`. */
  island: "n",
  /** An island's whole state when its page loaded: the same payload. */
  islandLoad: "N",
  /** The recorder hit maxEvents for this recording. */
  truncated: "t",
  /** Frames the recorder could not place; label is the count. */
  dropped: "d",
  /** End now: `c.var.replay.end()`. The recording is finalized whatever other instances hold. */
  end: "x",
  /**
   * This instance is done with the recording (idle, beacon, shutdown): flush it,
   * then finalize it unless the store shows activity after `label` (epoch ms):
   * the session may have moved on to another instance.
   */
  leave: "l",
  /** The frames that follow were recovered from a journal whose process died. */
  recovered: "v",
  /** Journal only: the ring position the journal holds up to. */
  position: "P",
  /** Journal only: the recording's frames so far are in the store. */
  done: "D",
} as const;

export type FrameKindCode = (typeof FrameKind)[keyof typeof FrameKind];

/** Metadata carried by the start frame. */
export interface StartMeta {
  view: string;
  url: string;
  sessionKey: string;
  startedAt: number;
  format: Format;
  /** Set when an instance joins a recording another instance mounted: its url is not the mount's. */
  resumed?: boolean;
}

export function frame(id: string, kind: FrameKindCode, t: number, label: string, payload: string, seq = 0): string {
  return id + "\t" + kind + "\t" + t + "\t" + seq + "\t" + label + "\t" + payload;
}

/** Labels sit in the header, so they must not contain the separators. */
export function frameLabel(text: string): string {
  return /[\t\n\r]/.test(text) ? text.replace(/[\t\n\r]/g, " ") : text;
}

export interface FrameHeader {
  id: string;
  kind: FrameKindCode;
  t: number;
  seq: number;
  label: string;
  /** Offset of the payload in the line. */
  payloadAt: number;
}

export function parseFrameHeader(line: string): FrameHeader | undefined {
  const a = line.indexOf("\t");
  const b = line.indexOf("\t", a + 1);
  const c = line.indexOf("\t", b + 1);
  const d = line.indexOf("\t", c + 1);
  const e = line.indexOf("\t", d + 1);
  if (a <= 0 || b < 0 || c < 0 || d < 0 || e < 0) return undefined;
  return {
    id: line.slice(0, a),
    kind: line.slice(a + 1, b) as FrameKindCode,
    t: Number(line.slice(b + 1, c)),
    seq: Number(line.slice(c + 1, d)),
    label: line.slice(d + 1, e),
    payloadAt: e + 1,
  };
}

/** Payload JSON (already codec-encoded parts) for each event kind. */
export const payload = {
  mount: (url: string, params: string, session: string, assigns: string, hash?: string) =>
    "[" + JSON.stringify(url) + "," + params + "," + session + "," + assigns + (hash ? "," + JSON.stringify(hash) : "") + "]",
  event: (params: string) => params,
  params: (url: string, params: string) => "[" + JSON.stringify(url) + "," + params + "]",
  info: () => "0",
  render: (changed: string, removed: string[], hash?: string) =>
    "[" + changed + "," + JSON.stringify(removed) + (hash ? "," + JSON.stringify(hash) : "") + "]",
};

/** Turns one stored (kind, t, label, payload) back into an event. */
export function toEvent(kind: string, t: number, label: string, data: unknown): ReplayEvent | undefined {
  switch (kind) {
    case FrameKind.mount: {
      const [url, params, session, assigns, htmlHash] = data as [string, Params, unknown, Assigns, string?];
      return { kind: "mount", t, url, params: params ?? {}, session, assigns: assigns ?? {}, ...(htmlHash ? { htmlHash } : {}) };
    }
    case FrameKind.event:
      return { kind: "event", t, name: label, params: (data as Params) ?? {} };
    case FrameKind.params: {
      const [url, params] = data as [string, Params];
      return { kind: "params", t, url, params: params ?? {} };
    }
    case FrameKind.info:
      return { kind: "info", t, type: label };
    case FrameKind.render:
    case FrameKind.keyframe: {
      const [changed, removed, htmlHash] = data as [Assigns, string[], string?];
      return {
        kind: "render",
        t,
        changed: changed ?? {},
        removed: removed ?? [],
        full: kind === FrameKind.keyframe,
        ...(htmlHash ? { htmlHash } : {}),
      };
    }
    case FrameKind.island:
    case FrameKind.islandLoad: {
      const [island, state, htmlHash] = data as [string, Params, string?];
      return { kind: "island", t, island, state: state ?? {}, load: kind === FrameKind.islandLoad, ...(htmlHash ? { htmlHash } : {}) };
    }
    default:
      return undefined;
  }
}

export function isEventKind(kind: string): boolean {
  return kind === "m" || kind === "e" || kind === "p" || kind === "i" || kind === "r" || kind === "f" || kind === "n" || kind === "N";
}

/** Events that show a person was there; a recording without one is discarded. (An island's load entry is not one.) */
export function isInteraction(kind: string): boolean {
  return kind === FrameKind.event || kind === FrameKind.params || kind === FrameKind.island;
}
