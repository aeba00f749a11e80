/**
 * The request-thread work of one validated keystroke, outside Hono: the props the
 * demo renders, the HTML, and what the recorder does with them (recordRender of
 * recorder/index.ts for a POST: sanitize the assigns, record the event with its
 * sanitized params, record the render's delta). Shared by the hot-path and the
 * scaling benchmarks.
 */

import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { SignupForm, type SignupProps } from "../examples/demo/views.tsx";
import { newRecordingId, shortHash } from "../format/mod.ts";
import { defaultSanitizer, type Sanitizer } from "../recorder/mod.ts";
import { ActiveRecording, type RecordingSettings } from "../recorder/recording.ts";
import type { EventLog } from "../worker/mod.ts";
import { signupProps } from "../examples/demo/signup.ts";
import { keystrokeForms } from "./session.ts";

export interface Keystroke {
  body: Record<string, string>;
  props: SignupProps;
  html: string;
  hash: string;
}

/** `count` keystrokes cycling through the typing script, the server's check counter going up. */
export function keystrokes(count: number): Keystroke[] {
  const forms = keystrokeForms(200);
  const out: Keystroke[] = [];
  for (let i = 0; i < count; i++) {
    const body = { ...forms[i % forms.length] };
    const props = signupProps(body, false, i + 1);
    const html = renderToString(h(SignupForm, props));
    out.push({ body, props, html, hash: shortHash(html) });
  }
  return out;
}

export const sanitizer: Sanitizer = defaultSanitizer();

/** The createReplay defaults. */
export const settings: RecordingSettings = {
  format: "tagged",
  sanitizer,
  maxEvents: 10_000,
  keyframeInterval: 50,
  maxValueChars: 256 * 1024,
};

/** A log that keeps the frames instead of writing them: isolates sanitize + encode from the append. */
export class CaptureLog {
  frames: string[] = [];
  append(_id: string, text: string): boolean {
    this.frames.push(text);
    return true;
  }
  asLog(): EventLog {
    return this as unknown as EventLog;
  }
}

/** A recording of the signup view, started (start and mount frames) on `log`. */
export function startRecording(log: EventLog, first: Keystroke, at = Date.now()): ActiveRecording {
  const rec = new ActiveRecording(newRecordingId(at), "SignupForm", "http://localhost/signup", at, log, settings);
  rec.start({ view: "SignupForm", url: "http://localhost/signup", sessionKey: "benchsession" }, {}, { demoUser: null }, sanitizer.sanitizeAssigns(first.props as unknown as Record<string, unknown>), first.hash);
  return rec;
}

/** What the recorder does for one validated keystroke once the view is rendered and hashed: two events. */
export function recordKeystroke(rec: ActiveRecording, k: Keystroke, now: number): void {
  const assigns = sanitizer.sanitizeAssigns(k.props as unknown as Record<string, unknown>);
  rec.event("validate", sanitizer.sanitizeParams(k.body), now);
  rec.render(assigns, now, k.hash);
}

export function renderSignup(props: SignupProps): string {
  return renderToString(h(SignupForm, props));
}
