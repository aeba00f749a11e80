/**
 * The conformance suite's fixtures: real recording files, built with the
 * format helpers the way the drain engine builds recordings, and ids no
 * backend may accept. Exported to backends' own tests through
 * storage/conformance.ts.
 */

import { h } from "preact";
import {
  encode,
  encodeRecordingFile,
  type Format,
  FrameKind,
  payload,
  type RecordingColumns,
  type RecordingSummary,
  type ReplayEvent,
} from "../../format/mod.ts";

/** The view fixture recordings render with. */
export function FixtureView(props: { label: string; count: number }) {
  return h("p", null, `${props.label} ${props.count}`);
}

export interface FixtureOptions {
  id: string;
  view?: string;
  url?: string;
  sessionKey?: string;
  startedAt: number;
  durationMs?: number;
  /** Events in all, the mount included. Default 3. */
  events?: number;
  /** Names the user events cycle through. Default ["click"]. */
  eventNames?: string[];
  /** Characters of pseudo-random text in each event's params, so big recordings stay big when compressed. */
  noise?: number;
  format?: Format;
  recovered?: boolean;
}

export interface Fixture {
  summary: RecordingSummary;
  bytes: Uint8Array;
  events: ReplayEvent[];
}

/**
 * A recording file as the drain engine writes it: a mount, then pairs of a
 * user event and the render it caused. The last render's count is the number
 * of events recorded after the mount that were renders.
 */
export function fixtureRecording(o: FixtureOptions): Fixture {
  const format = o.format ?? "tagged";
  const n = Math.max(1, o.events ?? 3);
  const duration = o.durationMs ?? (n - 1) * 10;
  const names = o.eventNames ?? ["click"];
  const label = o.view ?? "Fixture";
  let seed = hashSeed(o.id);
  const noise = () => {
    let s = "";
    for (let i = 0; i < (o.noise ?? 0); i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      s += (seed >>> 26).toString(36);
    }
    return s;
  };
  const events: ReplayEvent[] = [];
  const url = o.url ?? `http://localhost/${label.toLowerCase()}`;
  events.push({ kind: "mount", t: 0, url, params: {}, session: { user: null }, assigns: { label, count: 0 } });
  let count = 0;
  for (let i = 1; i < n; i++) {
    const t = n === 1 ? 0 : Math.round((i * duration) / (n - 1));
    if (i % 2 === 1 && names.length) {
      events.push({ kind: "event", t, name: names[((i - 1) / 2) % names.length], params: { i, noise: noise() } });
    } else {
      events.push({ kind: "render", t, changed: { count: ++count }, removed: [], full: false });
    }
  }
  const columns = columnsOf(events, format);
  const meta = {
    id: o.id,
    view: label,
    url,
    sessionKey: o.sessionKey ?? "s3ss10n",
    startedAt: o.startedAt,
    durationMs: events[events.length - 1].t,
    eventCount: events.length,
    eventNames: [...new Set(events.flatMap((e) => (e.kind === "event" ? [e.name] : [])))],
    truncated: false,
    dropped: 0,
    recovered: o.recovered ?? false,
    format,
  };
  const bytes = encodeRecordingFile(meta, columns);
  return { summary: { ...meta, sizeBytes: bytes.length }, bytes, events };
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Columns the way the drainer accumulates them from frames. */
function columnsOf(events: ReplayEvent[], format: Format): RecordingColumns {
  const c: RecordingColumns = { kinds: "", offsets: [], labels: [], payloads: [] };
  const enc = (v: unknown) => encode(v, format);
  for (const e of events) {
    c.offsets.push(e.t);
    if (e.kind === "mount") {
      c.kinds += FrameKind.mount;
      c.payloads.push(payload.mount(e.url, enc(e.params), enc(e.session), enc(e.assigns)));
    } else if (e.kind === "event") {
      c.kinds += FrameKind.event;
      c.labels.push(e.name);
      c.payloads.push(payload.event(enc(e.params)));
    } else if (e.kind === "render") {
      c.kinds += FrameKind.render;
      c.payloads.push(payload.render(enc(e.changed), e.removed));
    } else {
      throw new Error(`fixture: no ${e.kind} events`);
    }
  }
  return c;
}

/** Bytes that keep the file header but whose compressed body is damaged. */
export function damaged(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let i = Math.min(12, out.length - 1); i < out.length; i += 7) out[i] ^= 0x5a;
  return out;
}

export const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
export const MINUTE = 60_000;

/**
 * Fourteen recordings that differ in every field a filter or sort looks at,
 * with ties (equal durations, equal event counts, equal start times) so that
 * ordering by id is exercised too.
 */
export function fixtureSet(): Fixture[] {
  const rows: FixtureOptions[] = [
    { id: "0aaa-signup-1", view: "SignupForm", url: "http://localhost/signup", startedAt: T0, durationMs: 4_000, events: 9, eventNames: ["validate", "submit"] },
    { id: "0aab-signup-2", view: "SignupForm", url: "http://localhost/signup?ref=mail", startedAt: T0 + 1 * MINUTE, durationMs: 12_000, events: 41, eventNames: ["validate"] },
    { id: "0aac-todos-1", view: "TodoList", url: "http://localhost/todos", startedAt: T0 + 2 * MINUTE, durationMs: 4_000, events: 7, eventNames: ["add", "toggle"], sessionKey: "s3ss10n2" },
    { id: "0aad-todos-2", view: "TodoList", url: "http://localhost/todos?filter=done", startedAt: T0 + 3 * MINUTE, durationMs: 30_000, events: 9, eventNames: ["add", "delete"] },
    { id: "0aae-posts-1", view: "PostIndex", url: "http://localhost/posts?q=ring", startedAt: T0 + 4 * MINUTE, durationMs: 900, events: 3, eventNames: ["search"] },
    { id: "0aaf-posts-2", view: "PostIndex", url: "http://localhost/posts?tag=deno", startedAt: T0 + 5 * MINUTE, durationMs: 60_000, events: 101, eventNames: ["search", "Open-Post"] },
    { id: "0aag-signup-3", view: "SignupForm", url: "http://localhost/signup", startedAt: T0 + 6 * MINUTE, durationMs: 12_000, events: 9, eventNames: ["submit"] },
    { id: "0aah-todos-3", view: "TodoList", url: "http://localhost/todos", startedAt: T0 + 7 * MINUTE, durationMs: 2_500, events: 21, eventNames: ["toggle"] },
    { id: "0aai-posts-3", view: "PostIndex", url: "http://localhost/posts", startedAt: T0 + 8 * MINUTE, durationMs: 7_000, events: 5, eventNames: ["search"], sessionKey: "s3ss10n2" },
    { id: "0aaj-signup-4", view: "SignupForm", url: "http://localhost/signup?ref=ad", startedAt: T0 + 9 * MINUTE, durationMs: 1_000, events: 3, eventNames: ["validate"] },
    // Same start as the one before: sorting by start falls back to the id.
    { id: "0aak-todos-4", view: "TodoList", url: "http://localhost/todos?filter=open", startedAt: T0 + 9 * MINUTE, durationMs: 4_000, events: 9, eventNames: ["add"] },
    { id: "0aal-posts-4", view: "PostIndex", url: "http://localhost/posts?q=Replay", startedAt: T0 + 11 * MINUTE, durationMs: 15_000, events: 13, eventNames: ["search", "open-post"], recovered: true },
    { id: "0aam-signup-5", view: "SignupForm", url: "http://localhost/signup", startedAt: T0 + 12 * MINUTE, durationMs: 3_000, events: 5, eventNames: ["validate", "submit"], format: "json" },
    { id: "0aan-todos-5", view: "TodoList", url: "http://localhost/todos", startedAt: T0 + 13 * MINUTE, durationMs: 9_000, events: 15, eventNames: ["toggle", "delete"] },
  ];
  return rows.map(fixtureRecording);
}

/** Ids no backend may accept or be confused by: paths, empty, too long, control characters, SQL. */
export const HOSTILE_IDS = [
  "../../etc/passwd",
  "..",
  "a/b",
  "a\\b",
  "",
  " ",
  "x".repeat(101),
  "%2e%2e%2f",
  "id\u0000",
  "é",
  "a.b",
  "<script>",
  "'; DROP TABLE replay_recordings; --",
];
