/**
 * Cross-site request forgery: the one place destructive POSTs (delete, clear
 * all) are checked, and the one place their form token is made.
 *
 * Invariants, and why:
 * - A POST needs the browser's word that it is same-origin:
 *   `Sec-Fetch-Site: same-origin`, or an `Origin` equal to ours, scheme and
 *   port included (`https://a` is not `http://a`). A request with neither is
 *   refused: only a non-browser client sends none, and it can set them anyway.
 * - And a form token that is an HMAC, under a server secret, of the nonce in
 *   the CSRF cookie. A plain double-submit token (cookie == field) is not
 *   enough: a sibling subdomain can plant a cookie, but cannot compute the
 *   HMAC of it without the secret.
 * - The secret is `csrfSecret` or random per process (a restart asks users to
 *   reload the page); several instances behind one dashboard need the same one.
 * - The token is compared in constant time.
 */

import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { randomToken } from "../format/mod.ts";

const CSRF_COOKIE = "hono_replay_csrf";
const NONCE = /^[a-z0-9]{32}$/;

/** The per-process secret, when none is configured: shared by every dashboard of the process. */
let processSecret: Uint8Array<ArrayBuffer> | undefined;

export class Csrf {
  private readonly key: Promise<CryptoKey>;

  /**
   * @param secret `csrfSecret`, or undefined for the per-process one.
   * @param origins The origins browsers see the dashboard at; undefined: the request URL's.
   */
  constructor(secret: string | undefined, private readonly origins: string[] | undefined) {
    const raw = secret !== undefined ? new TextEncoder().encode(secret) : (processSecret ??= crypto.getRandomValues(new Uint8Array(new ArrayBuffer(32))));
    this.key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }

  /** The token to put in a page's forms; sets the nonce cookie (scoped to `path`) when there is none. */
  async token(c: Context, path: string): Promise<string> {
    let nonce = getCookie(c, CSRF_COOKIE);
    if (!nonce || !NONCE.test(nonce)) {
      nonce = randomToken(32);
      setCookie(c, CSRF_COOKIE, nonce, { httpOnly: true, sameSite: "Strict", path: path || "/", secure: new URL(c.req.url).protocol === "https:" });
    }
    return this.sign(nonce);
  }

  /** A POST from one of this dashboard's pages: same origin by the browser's word, and the server-signed token. */
  async verify(c: Context): Promise<boolean> {
    if (!this.fromThisOrigin(c)) return false;
    const nonce = getCookie(c, CSRF_COOKIE);
    let token: unknown;
    try {
      token = (await c.req.parseBody())._csrf;
    } catch {
      return false; // not a form: not one of ours
    }
    if (typeof nonce !== "string" || !NONCE.test(nonce) || typeof token !== "string") return false;
    return timingSafeEqual(await this.sign(nonce), token);
  }

  /** The form token for the cookie's nonce: HMAC(secret, nonce), hex. */
  private async sign(nonce: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await this.key, new TextEncoder().encode(`hono-replay csrf\n${nonce}`));
    return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  private fromThisOrigin(c: Context): boolean {
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin") return false;
    const origin = c.req.header("origin");
    if (origin === undefined) return site === "same-origin";
    let parsed: string;
    try {
      parsed = new URL(origin).origin; // "null" (opaque origins) throws
    } catch {
      return false;
    }
    return (this.origins ?? [new URL(c.req.url).origin]).includes(parsed);
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
