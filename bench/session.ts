/**
 * The scripted signup session: a person opens /signup, follows a link to
 * /signup?plan=pro (a navigation), types name, email and password one key at a
 * time with typos they correct (every keystroke validated by the server), then
 * submits. About 30 seconds of a person's time; driven through `app.request()`
 * under a virtual clock, so it takes milliseconds.
 */

import { prng, withVirtualClock } from "./lib.ts";

export interface Step {
  /** Milliseconds after the session starts. */
  at: number;
  method: "GET" | "POST";
  path: string;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

export const FIELDS = {
  name: "Augusta Ada King",
  email: "ada.king@analytical-engine.example",
  password: "Correct-Horse-Battery-9",
} as const;

type Form = { name: string; email: string; password: string };

/**
 * The form after each keystroke: `count` keystrokes in all. Typos (a wrong key,
 * then backspace) are spread evenly to reach `count`; when `count` is smaller
 * than the text, the text is cut.
 */
export function keystrokeForms(count = 200): Form[] {
  const chars: [keyof Form, string][] = [];
  for (const field of ["name", "email", "password"] as const) for (const ch of FIELDS[field]) chars.push([field, ch]);
  const typos = Math.max(0, Math.floor((count - chars.length) / 2));
  const every = typos > 0 ? chars.length / typos : Infinity;
  const forms: Form[] = [];
  let form: Form = { name: "", email: "", password: "" };
  let typoDone = 0;
  for (let i = 0; i < chars.length && forms.length < count; i++) {
    const [field, ch] = chars[i];
    if (typoDone < typos && i >= typoDone * every) {
      // A neighbouring key, then backspace.
      const wrong = String.fromCharCode(ch.charCodeAt(0) + 1);
      forms.push((form = { ...form, [field]: form[field] + wrong }));
      forms.push((form = { ...form, [field]: form[field].slice(0, -1) }));
      typoDone++;
    }
    forms.push((form = { ...form, [field]: form[field] + ch }));
  }
  // An odd count leaves one keystroke: the last character selected and typed
  // again, which fires an input event with the same value.
  while (forms.length < count) forms.push({ ...forms[forms.length - 1] });
  return forms.slice(0, count);
}

export const VALIDATE_HEADERS = { "x-replay-event": "validate" } as const;

/** The whole 30-second session: mount, navigation, `keystrokes` validations, submit. */
export function signupScript(keystrokes = 200, durationMs = 30_000, seed = 42): Step[] {
  const random = prng(seed);
  const forms = keystrokeForms(keystrokes);
  const steps: Step[] = [{ at: 0, method: "GET", path: "/signup" }, { at: 0, method: "GET", path: "/signup?plan=pro" }];
  const gaps: number[] = [1500];
  let previousField = "";
  for (const form of forms) {
    const field = form.password ? "password" : form.email ? "email" : "name";
    gaps.push(field !== previousField && previousField ? 1500 : 90 + random() * 170);
    previousField = field;
    steps.push({ at: 0, method: "POST", path: "/signup/validate", form, headers: { ...VALIDATE_HEADERS } });
  }
  gaps.push(2000);
  steps.push({ at: 0, method: "POST", path: "/signup", form: forms[forms.length - 1] });
  // Scale the gaps so the submit lands at durationMs.
  const total = gaps.reduce((a, b) => a + b, 0);
  let t = 0;
  for (let i = 1; i < steps.length; i++) {
    t += (gaps[i - 1] * durationMs) / total;
    steps[i].at = Math.round(t);
  }
  return steps;
}

/** A session of `keystrokes` validations after the mount, cycling through the typing script (no navigation, no submit). */
export function typingScript(keystrokes: number, gapMs = 150): Step[] {
  const forms = keystrokeForms(200);
  const steps: Step[] = [{ at: 0, method: "GET", path: "/signup" }];
  for (let i = 0; i < keystrokes; i++) {
    steps.push({ at: (i + 1) * gapMs, method: "POST", path: "/signup/validate", form: forms[i % forms.length], headers: { ...VALIDATE_HEADERS } });
  }
  return steps;
}

export interface Fetcher {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/** A browser for `app.request()`: keeps cookies (the session cookie above all). */
export class ScriptedBrowser {
  readonly cookies = new Map<string, string>();
  readonly pages: { path: string; status: number; html: string }[] = [];

  constructor(private readonly app: Fetcher, private readonly keepPages = false) {}

  async send(step: Step): Promise<Response> {
    const headers = new Headers(step.headers);
    if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    let body: string | undefined;
    if (step.form) {
      body = new URLSearchParams(step.form).toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    const res = await this.app.request(step.path, { method: step.method, headers, body });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const html = await res.text();
    if (this.keepPages) this.pages.push({ path: step.path, status: res.status, html });
    if (res.status >= 500) throw new Error(`${step.method} ${step.path}: ${res.status}\n${html}`);
    return res;
  }
}

/**
 * Plays `steps` under a virtual clock that starts `span` ms in the past, so the
 * session ends at about the real "now" (timers and the idle sweep stay sane).
 */
export async function playScript(app: Fetcher, steps: Step[], browser = new ScriptedBrowser(app)): Promise<ScriptedBrowser> {
  const span = steps[steps.length - 1].at;
  const start = Date.now() - span;
  await withVirtualClock(start, async (clock) => {
    for (const step of steps) {
      clock.set(start + step.at);
      await browser.send(step);
    }
  });
  return browser;
}
