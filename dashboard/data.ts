/**
 * Turns recordings into what the dashboard shows: event rows, frames rendered
 * by the replay engine with their assigns printed, and the player's data.
 * Everything here produces text; the pages and the client escape it.
 */

import type { Recording, RecordingSummary, ReplayEvent } from "../format/mod.ts";
import type { Player } from "../replay/mod.ts";
import { type DiffEntry, type EventRow, type FrameData, type FrameMeta, pathOf, type RecordingStatus } from "./shared.ts";

/** One printed assign longer than this is cut, so a huge list cannot blow up a batch. */
const MAX_VALUE_TEXT = 20_000;
const MAX_DETAIL_TEXT = 300;

/** A readable, JSON-like rendering of an assign, for the inspector: Dates, Maps, Sets and BigInts included. */
function inspect(value: unknown, maxChars = MAX_VALUE_TEXT): string {
  const text = print(value, "", new Set(), 0);
  return text.length > maxChars ? text.slice(0, maxChars) + ` … (${text.length - maxChars} more characters)` : text;
}

function print(value: unknown, indent: string, seen: Set<object>, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "boolean":
      return String(value);
    case "undefined":
      return "undefined";
    case "function":
      return "[function]";
    case "symbol":
      return value.toString();
  }
  if (value === null) return "null";
  const obj = value as object;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : `Date(${value.toISOString()})`;
  if (value instanceof RegExp) return String(value);
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (seen.has(obj)) return "[circular]";
  if (depth > 12) return "[…]";
  seen.add(obj);
  const inner = indent + "  ";
  let parts: string[];
  let open: string;
  let close: string;
  if (Array.isArray(value)) {
    parts = value.map((v) => print(v, inner, seen, depth + 1));
    [open, close] = ["[", "]"];
  } else if (value instanceof Map) {
    parts = [...value].map(([k, v]) => `${print(k, inner, seen, depth + 1)} => ${print(v, inner, seen, depth + 1)}`);
    [open, close] = [`Map(${value.size}) {`, "}"];
  } else if (value instanceof Set) {
    parts = [...value].map((v) => print(v, inner, seen, depth + 1));
    [open, close] = [`Set(${value.size}) {`, "}"];
  } else {
    parts = Object.entries(value as Record<string, unknown>).map(([k, v]) =>
      `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${print(v, inner, seen, depth + 1)}`
    );
    [open, close] = ["{", "}"];
  }
  seen.delete(obj);
  if (parts.length === 0) return open + close;
  const oneLine = `${open} ${parts.join(", ")} ${close}`;
  if (oneLine.length <= 72 && !oneLine.includes("\n")) return open === "[" ? `[${parts.join(", ")}]` : oneLine;
  return `${open}\n${parts.map((p) => inner + p).join(",\n")}\n${indent}${close}`;
}

function compact(value: unknown): string {
  const text = inspect(value, MAX_DETAIL_TEXT).replace(/\s*\n\s*/g, " ");
  return text === "{}" ? "" : text;
}

function eventRow(event: ReplayEvent, frame: number | undefined): EventRow {
  switch (event.kind) {
    case "mount":
      return { t: event.t, kind: "mount", label: pathOf(event.url), detail: compact(event.params), frame };
    case "event":
      return { t: event.t, kind: "event", label: event.name, detail: compact(event.params) };
    case "params":
      return { t: event.t, kind: "params", label: pathOf(event.url), detail: compact(event.params) };
    case "info":
      return { t: event.t, kind: "info", label: event.type, detail: "" };
    case "render": {
      const keys = [...Object.keys(event.changed), ...event.removed.map((k) => `−${k}`)];
      return { t: event.t, kind: "render", label: keys.join(", ") || "(no change)", detail: event.full ? "full snapshot" : "", frame };
    }
    case "island":
      return { t: event.t, kind: "island", label: event.island, detail: (event.load ? "page load " : "") + compact(event.state), frame };
  }
}

/** Event rows and frame metadata from event index `fromEvent` on (all of them by default). */
export function timelineRows(recording: Recording, fromEvent = 0, firstFrame = 0): { events: EventRow[]; frames: FrameMeta[] } {
  const events: EventRow[] = [];
  const frames: FrameMeta[] = [];
  let frame = firstFrame;
  for (let e = fromEvent; e < recording.events.length; e++) {
    const event = recording.events[e];
    const isFrame = event.kind === "mount" || event.kind === "render" || event.kind === "island";
    events.push(eventRow(event, isFrame ? frame : undefined));
    if (isFrame) {
      frames.push({ t: event.t, e });
      frame++;
    }
  }
  return { events, frames };
}

/** Renders frames [from, from + count) with their assigns and diffs, stopping early past `maxChars` of HTML. */
export function renderFrames(player: Player, from: number, count: number, maxChars = 2_000_000): FrameData[] {
  const out: FrameData[] = [];
  const end = Math.min(player.frameCount, from + count);
  let previous = from > 0 ? printed(player, from - 1) : undefined;
  let chars = 0;
  for (let i = from; i < end; i++) {
    const rendered = player.renderFrame(i);
    const assigns = printed(player, i);
    const frame: FrameData = {
      i,
      t: rendered.t,
      html: rendered.html,
      assigns,
      changed: player.timeline.changedKeys(i),
      diff: previous ? diff(previous, assigns) : [],
    };
    if (rendered.identical !== undefined) frame.identical = rendered.identical;
    out.push(frame);
    previous = assigns;
    chars += rendered.html.length + assigns.reduce((n, [, v]) => n + v.length, 0);
    if (chars > maxChars) break;
  }
  return out;
}

function printed(player: Player, index: number): [string, string][] {
  return Object.entries(player.timeline.assignsOf(index)).map(([k, v]) => [k, inspect(v)]);
}

function diff(before: [string, string][], after: [string, string][]): DiffEntry[] {
  const old = new Map(before);
  const out: DiffEntry[] = [];
  for (const [key, text] of after) {
    if (!old.has(key)) out.push({ key, after: text });
    else if (old.get(key) !== text) out.push({ key, before: old.get(key), after: text });
    old.delete(key);
  }
  for (const [key, text] of old) out.push({ key, before: text });
  return out;
}

export function statusOf(summary: RecordingSummary, active: boolean): RecordingStatus {
  return { active, truncated: summary.truncated, dropped: summary.dropped, recovered: summary.recovered };
}

/** The labels of a recording's status, e.g. ["finalized", "truncated", "3 dropped"]. */
export function statusLabels(status: RecordingStatus): string[] {
  const labels = [status.active ? "active" : "finalized"];
  if (status.truncated) labels.push("truncated");
  if (status.dropped > 0) labels.push(`${status.dropped} dropped`);
  if (status.recovered) labels.push("recovered");
  if (status.corrupt) labels.push("corrupt");
  return labels;
}
