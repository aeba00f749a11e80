/**
 * What the server hands the player and what the player shows: shared by the
 * server (which renders the first state of every page) and the client module
 * (bundled into the browser), so nothing here may touch Node, Deno or the DOM.
 */

export type Kind = "mount" | "event" | "params" | "info" | "render" | "island";

/** One recorded event, as the event list shows it. Text only: never parsed as HTML. */
export interface EventRow {
  t: number;
  kind: Kind;
  /** Event name, info type, URL, or the keys a render changed. */
  label: string;
  /** Params (compact), or "full snapshot" for a keyframe. */
  detail: string;
  /** For mount and render: the index of the frame it produced. */
  frame?: number;
}

/** A frame as the timeline knows it before it is fetched. */
export interface FrameMeta {
  t: number;
  /** Index of its event in `events`. */
  e: number;
}

/** A rendered frame, fetched in batches. */
export interface FrameData {
  i: number;
  t: number;
  /** The view's HTML, rendered on the server with the frame's assigns. */
  html: string;
  /** true: byte-identical to what was served; false: differs; absent: no hash recorded. */
  identical?: boolean;
  /** Every assign, pretty-printed. */
  assigns: [key: string, text: string][];
  /** The keys this render changed (all of them for a mount or a full snapshot). */
  changed: string[];
  /** Against the previous frame: keys whose printed value differs. */
  diff: DiffEntry[];
}

export interface DiffEntry {
  key: string;
  before?: string;
  after?: string;
}

export interface FrameBatch {
  frames: FrameData[];
  frameCount: number;
  active: boolean;
}

export interface RecordingStatus {
  active: boolean;
  truncated: boolean;
  dropped: number;
  recovered: boolean;
  /** Why the stored file cannot be read, when it cannot. */
  corrupt?: string;
}

export interface PlayerData {
  mode: "server" | "export";
  id: string;
  view: string;
  url: string;
  startedAt: number;
  durationMs: number;
  eventCount: number;
  status: RecordingStatus;
  events: EventRow[];
  frames: FrameMeta[];
  /** Prepended to every frame's HTML in the iframe: its CSP, `<base target>`, the `head` option. */
  frameHead: string;
  initialT: number;
  /** Frames rendered into the page (around `initialT`, or all of them in an export). */
  initialFrames: FrameData[];
  batchSize: number;
  /** Server mode: where to fetch frames and follow a live recording. */
  endpoints?: { frames: string; live: string; page: string };
  /** Set for finalized recordings: the IndexedDB key prefix their frames are cached under. */
  cacheKey?: string;
}

/** A live update of an active recording: what was added since the client's count. */
export interface LiveUpdate {
  events: EventRow[];
  frames: FrameMeta[];
  durationMs: number;
  eventCount: number;
  /** Present once the recording is finalized (the last update). */
  final?: { cacheKey: string; sizeBytes: number; status: RecordingStatus };
}

/** A recording's fidelity as the index shows it: whether every frame re-renders byte-identical. */
export interface FidelityCell {
  label: string;
  tone: "ok" | "bad" | "unknown";
  title: string;
}

/** One row of the index's live "active now" table. */
export interface ActiveRow {
  id: string;
  view: string;
  url: string;
  startedAt: number;
  durationMs: number;
  eventCount: number;
  href: string;
}

/**
 * The browser cache key of a finalized recording's frames (frame i is stored
 * under `${key}:${i}`): a new key whenever the recording's size, its first
 * frame's markup or the dashboard's `cacheVersion` changes, so a stale frame
 * is never shown. The id is the second part, so the browser can tell which
 * recording a cached frame belongs to and purge it when the recording is gone.
 */
export function frameCacheKey(id: string, sizeBytes: number, firstFrameHash: string, cacheVersion: string): string {
  return ["v1", id, sizeBytes, firstFrameHash, cacheVersion].join(":");
}

/** The recording id of a `frameCacheKey` (ids never contain ":"). */
export function recordingIdOfCacheKey(cacheKey: string): string {
  return cacheKey.split(":")[1] ?? "";
}

export const SPEEDS = [0.5, 1, 2, 4, 8] as const;

/** With "skip idle" on, a quiet stretch longer than this plays in IDLE_KEEP_MS at each end. */
const IDLE_GAP_MS = 2_000;
const IDLE_KEEP_MS = 500;

export const KIND_COLORS: Record<Kind, string> = {
  mount: "#2e7d32",
  event: "#e65100",
  params: "#1565c0",
  info: "#8e24aa",
  render: "#90a4ae",
  island: "#00897b",
};

/** 83_456 → "01:23.456". */
export function formatOffset(ms: number): string {
  const clamped = Math.max(0, Math.round(ms));
  const minutes = Math.floor(clamped / 60_000);
  const seconds = Math.floor((clamped % 60_000) / 1000);
  const millis = clamped % 1000;
  return `${String(minutes).padStart(2, "0")}:${String(seconds).padStart(2, "0")}.${String(millis).padStart(3, "0")}`;
}

/** 83_456 → "1m 23s"; 950 → "0.95s". */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(ms < 1000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Epoch ms → "2026-01-05 14:03:22 UTC". */
export function formatStart(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** The last index whose `t` is at or before `t`; -1 before the first. Items sorted by t. */
export function lastAtOrBefore(items: readonly { t: number }[], t: number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].t <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Quiet stretches of a session: [from, to] between consecutive events more than IDLE_GAP_MS apart. */
export function idleGaps(events: readonly { t: number }[]): [number, number][] {
  const gaps: [number, number][] = [];
  for (let i = 1; i < events.length; i++) {
    if (events[i].t - events[i - 1].t > IDLE_GAP_MS) gaps.push([events[i - 1].t, events[i].t]);
  }
  return gaps;
}

/** Where playback continues from `t` when skipping idle time: the far end of a gap it is inside, less IDLE_KEEP_MS. */
export function skipIdle(gaps: readonly [number, number][], t: number): number {
  for (const [from, to] of gaps) {
    if (t > from + IDLE_KEEP_MS && t < to - IDLE_KEEP_MS) return to - IDLE_KEEP_MS;
  }
  return t;
}

/** "https://a.example/signup?x=1" → "/signup?x=1"; what is not a URL, as it is. */
export function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url; // recorded as given (a relative URL): shown as it is
  }
}

/** The full document an iframe shows for a frame. */
export function frameDocument(frameHead: string, html: string): string {
  return "<!DOCTYPE html>" + frameHead + html;
}
