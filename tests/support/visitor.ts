/** A scripted browser over real HTTP, for end-to-end tests: cookies, Referer, redirects after form posts. */

export interface Sent {
  path: string;
  /** What the request carried. */
  form: Record<string, string>;
  /** When its response arrived (epoch ms). */
  at: number;
  /** The instance that served it. */
  origin: string;
}

/**
 * One browser: cookies, redirects after form posts, what it sent. Given
 * several origins, each request goes to the next one in turn, with the same
 * cookies: a load balancer without sticky sessions in front of several instances.
 */
export class Visitor {
  private cookies = new Map<string, string>();
  private lastUrl?: string;
  private turn = 0;
  origins: string[];
  /** The origin each request went to, in order. */
  readonly served: string[] = [];
  /** Every form post, in order. */
  readonly sent: Sent[] = [];
  /** Every page received (after redirects), in order: what the person saw. */
  readonly pages: { path: string; status: number; html: string }[] = [];

  constructor(origin: string | string[], private readonly pick: "round-robin" | "random" = "round-robin") {
    this.origins = Array.isArray(origin) ? origin : [origin];
  }

  get origin(): string {
    return this.origins[0];
  }

  /** A cookie's value as this browser holds it. */
  cookie(name: string): string | undefined {
    const value = this.cookies.get(name);
    return value === undefined ? undefined : decodeURIComponent(value);
  }

  /** From now on, requests go to these instances (one was stopped, say). */
  reroute(origins: string[]): void {
    this.origins = origins;
    this.turn = 0;
  }

  private next(): string {
    const i = this.pick === "random" ? Math.floor(Math.random() * this.origins.length) : this.turn++ % this.origins.length;
    return this.origins[i];
  }

  get(path: string): Promise<string> {
    return this.send(path, { method: "GET" });
  }

  /** A form post; `event` names it for the recording. */
  async post(path: string, form: Record<string, string>, event?: string): Promise<string> {
    const served = this.served.length;
    const html = await this.send(path, {
      method: "POST",
      body: new URLSearchParams(form).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", ...(event ? { "x-replay-event": event } : {}) },
    });
    this.sent.push({ path, form, at: Date.now(), origin: this.served[served] });
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
    const origin = this.next();
    this.served.push(origin);
    const res = await fetch(origin + path, { ...init, headers, redirect: "manual" });
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
    // One site behind the balancer: the Referer names the page, whichever instance served it.
    if (init.method === "GET") this.lastUrl = this.origins[0] + path;
    return html;
  }
}

