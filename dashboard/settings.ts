/**
 * The dashboard's options, as given (`DashboardOptions`) and as used
 * (`DashboardSettings`): every default is applied here and nowhere else, and
 * every configuration mistake is refused here, at creation, never at the
 * first request.
 *
 * Invariants, and why:
 * - `authorize` together with `dangerouslyAllowOpenAccess` is an error: open
 *   access would silently ignore the callback, and it is never clear which of
 *   the two was meant.
 * - A `csrfSecret` shorter than 32 characters and an `origin` that is not an
 *   origin are errors: both protect destructive POSTs, and a weak or mistyped
 *   one would fail open or refuse every delete.
 * - `frameSources` that are not plain origins are dropped: they go into a
 *   Content-Security-Policy, where a ";" or a quote would add directives.
 */

import type { Context } from "hono";
import type { RecordingSummary } from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";

export interface DashboardOptions {
  /**
   * Who may use the dashboard. Called with `recording` undefined for the dashboard
   * itself (the index, the live list of active recordings, clear all), and with
   * the recording's summary for every route about one recording (player, frames,
   * live stream, download, export, delete). Return false for a 403. Until this
   * is given (or `dangerouslyAllowOpenAccess`), every route answers 403.
   */
  authorize?: (c: Context, recording?: RecordingSummary) => boolean | Promise<boolean>;
  /**
   * Serve everyone without asking `authorize`. Recordings hold what your users
   * typed: only for a development server bound to localhost.
   */
  dangerouslyAllowOpenAccess?: boolean;
  /**
   * HTML put into the head of every replayed frame, for the app's own
   * stylesheets: `'<link rel="stylesheet" href="/static/app.css">'`. Scripts in
   * it do not run. Same-origin (and `frameSources`) stylesheets, images and fonts load.
   */
  head?: string;
  /** More origins frames may load styles, images and fonts from, e.g. `["https://cdn.example.com"]`. */
  frameSources?: string[];
  /** Rows per index page. Default 50. */
  pageSize?: number;
  /** Frames per fetched batch. Default 100. */
  batchSize?: number;
  /** Page title. Default "hono-replay". */
  title?: string;
  /** Part of the browser cache key of finalized frames: change it when views change how they render. */
  cacheVersion?: string;
  /** Where the dashboard is mounted, when it cannot be worked out from the route (it can for `app.route(path, …)`). */
  basePath?: string;
  /**
   * The secret that signs the delete forms' CSRF tokens (at least 32 characters).
   * Default: random per process, so a restart asks users to reload the page;
   * give one shared secret when several instances serve the dashboard.
   */
  csrfSecret?: string;
  /**
   * The origin(s) browsers see the dashboard at, e.g. `"https://admin.example.com"`,
   * when it differs from the request URL's (behind a proxy that terminates TLS).
   * Destructive POSTs must come from one of them. Default: the request URL's origin.
   */
  origin?: string | string[];
  /**
   * Where the dashboard reports what went wrong (storage outages, live streams
   * that fail, an `authorize` that throws, requests that fail). Default: the
   * replay's logger (`replay.store.logger`), else `consoleLogger`.
   */
  logger?: Logger;
}

/** The options with their defaults applied and checked. */
export interface DashboardSettings {
  authorize?: DashboardOptions["authorize"];
  /** `dangerouslyAllowOpenAccess`: authorize is never asked. */
  open: boolean;
  /** Open, or an authorize callback given: until then every route answers 403. */
  configured: boolean;
  title: string;
  pageSize: number;
  batchSize: number;
  /** Plain origins only (see the header). */
  frameSources: string[];
  head: string;
  cacheVersion: string;
  /** Without a trailing slash; undefined: worked out from the route. */
  basePath?: string;
  csrfSecret?: string;
  /** Normalized origins; undefined: the request URL's. */
  origins?: string[];
  logger: Logger;
}

/** The most frames one request may ask for (a batch), whatever `batchSize` says. */
export const MAX_BATCH = 500;

/** `replayLogger`: the logger `options.logger` defaults to (the replay's). */
export function resolveSettings(options: DashboardOptions, replayLogger?: Logger): DashboardSettings {
  if (options.dangerouslyAllowOpenAccess === true && options.authorize !== undefined) {
    throw new TypeError(
      "replay.dashboard: `authorize` and `dangerouslyAllowOpenAccess` were both given; open access would ignore authorize. " +
        "Remove `dangerouslyAllowOpenAccess` to protect the dashboard (or remove `authorize` on a development server on localhost).",
    );
  }
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== "string" || options.csrfSecret.length < 32)) {
    throw new TypeError("replay.dashboard: `csrfSecret` must be a string of at least 32 characters (e.g. 32 random bytes, hex-encoded), shared by every instance");
  }
  const open = options.dangerouslyAllowOpenAccess === true;
  const settings: DashboardSettings = {
    authorize: options.authorize,
    open,
    configured: open || typeof options.authorize === "function",
    title: options.title ?? "hono-replay",
    pageSize: clampInt(options.pageSize ?? 50, 1, 1000),
    batchSize: clampInt(options.batchSize ?? 100, 1, MAX_BATCH),
    frameSources: (options.frameSources ?? []).filter((s) => /^[a-z][a-z0-9+.-]*:\/\/[^\s;,'"]+$/i.test(s)),
    head: options.head ?? "",
    cacheVersion: options.cacheVersion ?? "",
    basePath: options.basePath?.replace(/\/+$/, ""),
    csrfSecret: options.csrfSecret,
    origins: options.origin === undefined ? undefined : originsOf(options.origin),
    logger: options.logger ?? replayLogger ?? consoleLogger,
  };
  warnOnce(settings);
  return settings;
}

function originsOf(origin: string | string[]): string[] {
  return (Array.isArray(origin) ? origin : [origin]).map((o) => {
    try {
      return new URL(o).origin;
    } catch {
      throw new TypeError(`replay.dashboard: \`origin\` ${JSON.stringify(o)} is not an origin; give it as "https://admin.example.com"`);
    }
  });
}

/** The loud warnings, once per logger (so once per process on the console): a test suite or a dev server creates many dashboards. */
const warnedBy = new WeakMap<Logger, Set<string>>();

function warnOnce(settings: DashboardSettings): void {
  let warned = warnedBy.get(settings.logger);
  if (!warned) warnedBy.set(settings.logger, (warned = new Set()));
  if (!settings.configured && !warned.has("unconfigured")) {
    warned.add("unconfigured");
    settings.logger.warn("dashboard: no `authorize` given, so every dashboard route answers 403 (see the page for how to configure it).");
  } else if (settings.open && !warned.has("open")) {
    warned.add("open");
    settings.logger.warn("dashboard: OPEN ACCESS (dangerouslyAllowOpenAccess): anyone who can reach this server can watch every recording.");
  }
}

function clampInt(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(Number.isFinite(n) ? n : lo)));
}
