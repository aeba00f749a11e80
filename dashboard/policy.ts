/**
 * Content-Security-Policy and the other security headers: the one place the
 * dashboard's three policies are written.
 *
 * - The dashboard's pages: its own script and stylesheet only (`'self'`),
 *   inline styles for frames' markup, no plugins, no `<base>`, framed only by
 *   itself.
 * - A replayed frame (a meta element at the top of its srcdoc): no script at
 *   all, styles, images and fonts from the dashboard's origin and
 *   `frameSources`. The iframe's empty `sandbox` already forbids scripts; the
 *   policy also keeps a recorded page from loading anything else.
 * - An export (a meta element, since a file has no headers): nothing from
 *   anywhere, its one inline script allowed by hash.
 *
 * Invariants, and why:
 * - Every response of the dashboard, error pages and refusals included, gets
 *   the headers: they are applied by the outermost middleware, after every
 *   route and error handler has answered.
 * - A response that brings its own policy (an export) keeps it; one that says
 *   how it may be cached (assets, frame batches) keeps that; everything else is
 *   `no-store`, because it shows recordings.
 * - The dashboard sets no Strict-Transport-Security and no
 *   Origin-Agent-Cluster: it is mounted inside an app, and whether a whole host
 *   is https-only, or how its origin is isolated, is the app's decision.
 * - Hono's `secureHeaders` sets the fixed headers; the policy and
 *   cache-control are set here only when missing, because `secureHeaders`
 *   keeps a header a handler set (`overwrite: false`) only in recent Hono
 *   versions, and the package accepts Hono 4.6.
 * - Referrer-Policy is `same-origin`, not `no-referrer`: with no-referrer,
 *   browsers send `Origin: null` on the dashboard's own POSTs, and the CSRF
 *   check (csrf.ts) would refuse them.
 */

import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

export function dashboardPolicy(frameSources: string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    ["style-src 'self' 'unsafe-inline'", ...frameSources].join(" "),
    ["img-src 'self' data:", ...frameSources].join(" "),
    ["font-src 'self' data:", ...frameSources].join(" "),
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join("; ");
}

/** @param origin The dashboard's origin; undefined in an export, which has none to load from. */
export function framePolicy(origin: string | undefined, frameSources: string[]): string {
  const sources = [...(origin ? [origin] : []), ...frameSources].join(" ");
  return [
    "default-src 'none'",
    "script-src 'none'",
    `style-src 'unsafe-inline' ${sources}`,
    `img-src data: ${sources}`,
    `font-src data: ${sources}`,
    "form-action 'none'",
    "base-uri 'none'",
  ].map((d) => d.trim()).join("; ");
}

/** @param scriptHash base64 SHA-256 of the export's one inline script. */
export function exportPolicy(scriptHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'sha256-${scriptHash}'`,
    "style-src 'unsafe-inline'",
    "img-src data:",
    "font-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** The headers of every dashboard response (see the invariants above). */
export function securityHeaders(policy: string): MiddlewareHandler[] {
  return [
    secureHeaders({
      referrerPolicy: "same-origin",
      strictTransportSecurity: false,
      originAgentCluster: false,
      xFrameOptions: "SAMEORIGIN",
      crossOriginOpenerPolicy: "same-origin",
      crossOriginResourcePolicy: "same-origin",
    }),
    async (c, next) => {
      await next();
      const headers = c.res.headers;
      if (!headers.has("content-security-policy")) headers.set("content-security-policy", policy);
      if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
    },
  ];
}
