/**
 * One active recording as this instance sees it: enough state to turn a render
 * into a delta (the encoded text of each top-level assign) and to end the
 * recording. Everything else lives in the worker and, merged from every
 * instance's segments, in the store.
 *
 * A delta is only ever against a frame this instance wrote for the request
 * right before (`seq`): when another instance may have served a request in
 * between, `forgetBase()` makes the next render a full snapshot, so merged
 * segments always rebuild the assigns exactly (format/segments.ts).
 */

import {
  type Assigns,
  encode,
  encodeKey,
  type Format,
  frame,
  FrameKind,
  frameLabel,
  payload,
  type Params,
  type StartMeta,
} from "../format/mod.ts";
import type { EventLog } from "../worker/mod.ts";
import { BoundedMemo } from "./bounded_memo.ts";
import type { Sanitizer } from "./sanitize.ts";

export interface RecordingSettings {
  format: Format;
  sanitizer: Sanitizer;
  maxEvents: number;
  keyframeInterval: number;
  /** A single encoded assign longer than this is replaced by a note. */
  maxValueChars: number;
}

export class ActiveRecording {
  /** Encoded text of each top-level assign at the last render. */
  private keys = new Map<string, string>();
  private rendersSinceKeyframe = 0;
  private events = 0;
  private lastT = 0;
  /** The session's request counter for this recording, as of the last request this instance recorded. */
  seq = 0;
  truncated = false;
  lastActivity: number;
  /** Epoch ms of the pagehide beacon: end after the grace period unless the session comes back. */
  leftAt?: number;

  constructor(
    readonly id: string,
    readonly view: string,
    readonly url: string,
    readonly startedAt: number,
    private readonly log: EventLog,
    private readonly settings: RecordingSettings,
  ) {
    this.lastActivity = startedAt;
  }

  /**
   * The mount. `keepBase: false` (a flood of sessions that may never come
   * back) keeps nothing of the assigns in memory: the next render, if any, is
   * a full snapshot instead of a delta.
   */
  start(meta: Omit<StartMeta, "format" | "startedAt">, params: Params, session: unknown, assigns: Assigns, hash?: string, keepBase = true) {
    this.announce(meta);
    const assignsText = this.encodeAll(assigns);
    if (!keepBase) this.keys = new Map();
    this.push(FrameKind.mount, 0, "", payload.mount(this.url, this.enc(params), this.enc(session), assignsText, hash));
  }

  /** Joins a recording another instance mounted: its frames follow without a mount. */
  resume(meta: Omit<StartMeta, "format" | "startedAt" | "resumed">) {
    this.announce({ ...meta, resumed: true });
  }

  /** The next render is a full snapshot: another instance may have rendered since our last frame. */
  forgetBase() {
    this.keys = new Map();
  }

  private announce(meta: Omit<StartMeta, "format" | "startedAt">) {
    const full: StartMeta = { ...meta, startedAt: this.startedAt, format: this.settings.format };
    this.log.append(this.id, frame(this.id, FrameKind.start, 0, "", JSON.stringify(full), this.seq));
  }

  event(name: string, params: Params, now: number) {
    this.push(FrameKind.event, this.offset(now), frameLabel(name), payload.event(this.enc(params)));
  }

  params(url: string, params: Params, now: number) {
    this.push(FrameKind.params, this.offset(now), "", payload.params(url, this.enc(params)));
  }

  info(type: string, now: number) {
    this.push(FrameKind.info, this.offset(now), frameLabel(type), payload.info());
  }

  /** Records the assigns of a render: the changed keys, or a full snapshot when due or smaller. */
  render(assigns: Assigns, now: number, hash?: string) {
    const { format, sanitizer } = this.settings;
    const previous = this.keys;
    const next = new Map<string, string>();
    const changed: string[] = [];
    let changedChars = 0;
    let allChars = 0;
    // Sizes only: the snapshot's text is built when a snapshot is what gets written.
    for (const key of Object.keys(assigns)) {
      const text = this.encodeValue(assigns[key]);
      next.set(key, text);
      const partChars = keyText(key, format).length + 1 + text.length;
      allChars += partChars;
      if (previous.get(key) !== text) {
        changed.push(key);
        changedChars += partChars;
      }
    }
    const removed: string[] = [];
    for (const key of previous.keys()) if (!next.has(key)) removed.push(key);
    this.keys = next;
    const keyframeDue = ++this.rendersSinceKeyframe >= this.settings.keyframeInterval;
    const removedChars = removed.length ? JSON.stringify(removed).length : 2;
    const t = this.offset(now);
    if (keyframeDue || allChars <= changedChars + removedChars) {
      this.rendersSinceKeyframe = 0;
      this.push(FrameKind.keyframe, t, "", payload.render(this.snapshotText(next), [], hash));
      return;
    }
    let delta: string;
    if (sanitizer.sanitizeDelta) {
      const picked: Assigns = {};
      for (const key of changed) picked[key] = assigns[key];
      delta = this.enc(sanitizer.sanitizeDelta(picked, assigns));
    } else {
      delta = "";
      for (const key of changed) delta += (delta ? "," : "") + keyText(key, format) + ":" + next.get(key);
      delta = "{" + delta + "}";
    }
    this.push(FrameKind.render, t, "", payload.render(delta, removed, hash));
  }

  /** Ends the recording for good (`c.var.replay.end()`), whatever other instances hold of it. */
  end() {
    this.log.append(this.id, frame(this.id, FrameKind.end, this.lastT, "", "0", this.seq));
  }

  /**
   * This instance lets the recording go (idle, beacon, shutdown); it is finalized
   * unless the store shows activity after `since` (epoch ms) on another instance.
   */
  leave(since: number) {
    // Never before this instance's own last frame: its own activity is no reason to stay.
    const after = Math.max(since, this.startedAt + this.lastT);
    this.log.append(this.id, frame(this.id, FrameKind.leave, this.lastT, String(after), "0", this.seq));
  }

  private snapshotText(encoded: Map<string, string>): string {
    const { format } = this.settings;
    let out = "";
    for (const [key, text] of encoded) out += (out ? "," : "") + keyText(key, format) + ":" + text;
    return "{" + out + "}";
  }

  private encodeAll(assigns: Assigns): string {
    const parts: string[] = [];
    for (const key of Object.keys(assigns)) {
      const text = this.encodeValue(assigns[key]);
      this.keys.set(key, text);
      parts.push(keyText(key, this.settings.format) + ":" + text);
    }
    return "{" + parts.join(",") + "}";
  }

  private encodeValue(value: unknown): string {
    const text = encode(value, this.settings.format);
    return text.length > this.settings.maxValueChars
      ? JSON.stringify(`[Omitted: ${text.length} characters, over maxValueChars]`)
      : text;
  }

  private enc(value: unknown): string {
    return encode(value, this.settings.format);
  }

  /** Milliseconds since the mount, never going backwards. */
  private offset(now: number): number {
    const t = Math.max(this.lastT, Math.round(now - this.startedAt));
    this.lastT = t;
    return t;
  }

  private push(kind: string, t: number, label: string, body: string) {
    if (this.truncated) return;
    if (this.events >= this.settings.maxEvents) {
      this.truncated = true;
      this.log.append(this.id, frame(this.id, FrameKind.truncated, t, "", "0", this.seq));
      return;
    }
    this.events++;
    this.log.append(this.id, frame(this.id, kind as typeof FrameKind.event, t, label, body, this.seq));
  }
}

/**
 * Assign names as JSON text, remembered: a view's few names are encoded two or
 * three times on every render (sizes, then the delta or snapshot). Names may
 * come from a client (a parsed body spread into props): bounded.
 */
const keyTexts: Record<Format, BoundedMemo<string>> = { tagged: new BoundedMemo(1_024, 256), json: new BoundedMemo(1_024, 256) };

function keyText(key: string, format: Format): string {
  const memo = keyTexts[format];
  let text = memo.get(key);
  if (text === undefined) {
    text = encodeKey(key, format);
    memo.set(key, text);
  }
  return text;
}
