/** A scripted browser over real HTTP, for end-to-end tests: cookies, Referer, redirects after form posts. */

export interface Sent {
  path: string;
  /** What the request carried. */
  form: Record<string, string>;
  /** When its response arrived (epoch ms). */
  at: number;
}

/** One browser: cookies, redirects after form posts, what it sent. */
export class Visitor {
  private cookies = new Map<string, string>();
  private lastUrl?: string;
  /** Every form post, in order. */
  readonly sent: Sent[] = [];
  /** Every page received (after redirects), in order: what the person saw. */
  readonly pages: { path: string; status: number; html: string }[] = [];

  constructor(readonly origin: string) {}

  get(path: string): Promise<string> {
    return this.send(path, { method: "GET" });
  }

  /** A form post; `event` names it for the recording. */
  async post(path: string, form: Record<string, string>, event?: string): Promise<string> {
    const html = await this.send(path, {
      method: "POST",
      body: new URLSearchParams(form).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", ...(event ? { "x-replay-event": event } : {}) },
    });
    this.sent.push({ path, form, at: Date.now() });
    return html;
  }

  /** The pagehide beacon: the tab is closed. */
  async leave(): Promise<void> {
    await this.send("/__replay/leave", { method: "POST" });
  }

  private async send(path: string, init: RequestInit): Promise<string> {
    const headers = new Headers(init.headers);
    headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    if (this.lastUrl) headers.set("referer", this.lastUrl);
    const res = await fetch(this.origin + path, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    if (res.status === 303) {
      await res.body?.cancel();
      return this.get(res.headers.get("location")!);
    }
    const html = await res.text();
    this.pages.push({ path, status: res.status, html });
    if (init.method === "GET") this.lastUrl = this.origin + path;
    return html;
  }
}

