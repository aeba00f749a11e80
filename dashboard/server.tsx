/**
 * The dashboard's routes: a Hono app to mount anywhere,
 *
 *   app.route("/replay", createDashboard(replay, { authorize: (c, recording) => isAdmin(c) }));
 *
 * Pages are rendered on the server; the player fetches frames (rendered here by
 * the replay engine) in batches; active recordings stream over server-sent events.
 *
 * Invariants, and why:
 * - Nothing is served without `authorize` (or the explicit open-access flag;
 *   both at once is refused at creation: it is never clear which one was meant).
 *   Assets and the 404 page ask too, so an outsider learns nothing, not even
 *   which version of the dashboard runs.
 * - A recording the caller may not see answers exactly as one that does not
 *   exist (404 for someone allowed into the dashboard, 403 for anyone else):
 *   the answer must not tell whether an id exists.
 * - A destructive POST needs the browser's word that it is same-origin
 *   (`Sec-Fetch-Site: same-origin`, or an `Origin` equal to ours, scheme
 *   included) and a form token that is an HMAC, under a server secret, of the
 *   nonce in the CSRF cookie: a cookie planted by a sibling subdomain is
 *   worthless without the token only this server can compute.
 * - A storage failure is a 503 page saying the storage is unavailable, never a
 *   stack trace; nothing is cached about the failure, so the next request
 *   after the storage is back is served normally.
 * - A corrupt recording is shown as corrupt, with the reason, and can be
 *   deleted; it never makes a page fail.
 */

import type { Context } from "hono";
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { gzipSync } from "fflate";
import type { VNode } from "preact";
import type { Replay } from "../mod.ts";
import { CorruptRecordingError, isValidId, randomToken, type Recording, RecordingNotFoundError, type RecordingSummary, ReplayError, shortHash } from "../format/mod.ts";
import type { Player } from "../replay/mod.ts";
import { matchesFilter, type SortKey, type SummaryFilter } from "../storage/mod.ts";
import { clientJs } from "./client/bundle.gen.ts";
import { renderFrames, statusOf, timelineRows } from "./data.ts";
import { ConfirmClearPage, type FidelityCell, IndexPage, type IndexRow, MessagePage, page, PlayerPage } from "./pages.tsx";
import { type ActiveRow, type FrameBatch, lastAtOrBefore, type LiveUpdate, type PlayerData } from "./shared.ts";
import { dashboardCss } from "./styles.ts";

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
}

type Env = { Variables: { base: string } };

interface Loaded {
  recording: Recording;
  active: boolean;
  player?: Player;
  /** Finalized only: the browser cache key of its frames. */
  cacheKey?: string;
}

const CSRF_COOKIE = "hono_replay_csrf";
/** The per-process CSRF secret, when none is configured. */
let processSecret: Uint8Array<ArrayBuffer> | undefined;

/** The storage threw something that is not about one recording: it is down or unreachable. */
class StorageUnavailableError extends Error {}
/** The loud warnings, once per process. */
const warned = new Set<string>();
const MAX_FIDELITY_IDS = 50;

export function createDashboard(replay: Replay, options: DashboardOptions = {}): Hono<Env> {
  if (options.dangerouslyAllowOpenAccess === true && options.authorize !== undefined) {
    throw new TypeError(
      "replay.dashboard: `authorize` and `dangerouslyAllowOpenAccess` were both given; open access would ignore authorize. " +
        "Remove `dangerouslyAllowOpenAccess` to protect the dashboard (or remove `authorize` on a development server on localhost).",
    );
  }
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== "string" || options.csrfSecret.length < 32)) {
    throw new TypeError("replay.dashboard: `csrfSecret` must be a string of at least 32 characters (e.g. 32 random bytes, hex-encoded), shared by every instance");
  }
  const origins = options.origin === undefined ? undefined : (Array.isArray(options.origin) ? options.origin : [options.origin]).map((o) => {
    try {
      return new URL(o).origin;
    } catch {
      throw new TypeError(`replay.dashboard: \`origin\` ${JSON.stringify(o)} is not an origin; give it as "https://admin.example.com"`);
    }
  });
  const app = new Hono<Env>();
  const open = options.dangerouslyAllowOpenAccess === true;
  const configured = open || typeof options.authorize === "function";
  const title = options.title ?? "hono-replay";
  const pageSize = clampInt(options.pageSize ?? 50, 1, 1000);
  const batchSize = clampInt(options.batchSize ?? 100, 1, 500);
  const frameSources = (options.frameSources ?? []).filter((s) => /^[a-z][a-z0-9+.-]*:\/\/[^\s;,'"]+$/i.test(s));
  const jsName = `client-${shortHash(clientJs)}.js`;
  const cssName = `dashboard-${shortHash(dashboardCss)}.css`;
  let scriptHash: Promise<string> | undefined;

  if (!configured && !warned.has("unconfigured")) {
    warned.add("unconfigured");
    console.warn("hono-replay dashboard: no `authorize` given, so every dashboard route answers 403 (see the page for how to configure it).");
  } else if (open && !warned.has("open")) {
    warned.add("open");
    console.warn("hono-replay dashboard: OPEN ACCESS (dangerouslyAllowOpenAccess): anyone who can reach this server can watch every recording.");
  }

  // Finalized recordings never change: keep a few decoded (with their player) and every fidelity result.
  const recordings = new Map<string, Loaded>();
  const fidelity = new Map<string, FidelityCell>();
  /** Recordings found corrupt, with the reason: listed as such until deleted. */
  const corruptIds = new Map<string, string>();
  const forget = (id?: string) => {
    if (id === undefined) {
      recordings.clear();
      fidelity.clear();
      corruptIds.clear();
    } else {
      recordings.delete(id);
      fidelity.delete(id);
      corruptIds.delete(id);
    }
  };

  const assetsOf = (base: string) => ({ css: `${base}/assets/${cssName}`, js: `${base}/assets/${jsName}` });

  const csp = [
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

  app.use("*", async (c, next) => {
    c.set("base", options.basePath?.replace(/\/+$/, "") ?? baseOf(c.req.routePath, c.req.path));
    let res: Response | undefined;
    if (!configured) res = htmlPage(c, 403, <NotConfigured base={c.var.base} />);
    // "/replay/" as well as "/replay".
    else if (c.req.method === "GET" && c.req.path === c.var.base + "/" && c.var.base !== "") res = await index(c);
    if (res) {
      secure(res.headers);
      return res;
    }
    await next();
    secure(c.res.headers);
  });

  function secure(headers: Headers) {
    if (!headers.has("content-security-policy")) headers.set("content-security-policy", csp);
    headers.set("x-content-type-options", "nosniff");
    // same-origin, not no-referrer: with no-referrer, browsers send `Origin: null` on the dashboard's own POSTs.
    headers.set("referrer-policy", "same-origin");
    headers.set("x-frame-options", "SAMEORIGIN");
    headers.set("cross-origin-opener-policy", "same-origin");
    if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  }

  async function allowed(c: Context, recording?: RecordingSummary): Promise<boolean> {
    if (open) return true;
    try {
      return (await options.authorize!(c, recording)) === true;
    } catch (error) {
      console.error("hono-replay dashboard: authorize threw, so the request is refused:", error);
      return false;
    }
  }

  function htmlPage(c: Context<Env>, status: number, body: VNode): Response {
    return c.html(page(body), status as 200);
  }

  function message(c: Context<Env>, status: number, heading: string, text: string): Response {
    return htmlPage(
      c,
      status,
      <MessagePage title={heading} base={c.var.base} assets={assetsOf(c.var.base)}>
        <p>{text}</p>
        <p><a href={`${c.var.base}/`}>Back to the recordings</a></p>
      </MessagePage>,
    );
  }

  const denied = (c: Context<Env>) => message(c, 403, "Not allowed", "The dashboard's authorize callback refused this request.");

  /** Whether the storage's outage was already logged: once per outage. */
  let outage = false;
  const csrfKey = crypto.subtle.importKey(
    "raw",
    options.csrfSecret !== undefined ? new TextEncoder().encode(options.csrfSecret) : (processSecret ??= crypto.getRandomValues(new Uint8Array(new ArrayBuffer(32)))),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );

  /** The form token for the cookie's nonce: HMAC(secret, nonce), hex. */
  async function sign(nonce: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await csrfKey, new TextEncoder().encode(`hono-replay csrf\n${nonce}`));
    return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** The token to put in this page's forms; sets the nonce cookie when there is none. */
  async function csrfToken(c: Context<Env>): Promise<string> {
    let nonce = getCookie(c, CSRF_COOKIE);
    if (!nonce || !/^[a-z0-9]{32}$/.test(nonce)) {
      nonce = randomToken(32);
      setCookie(c, CSRF_COOKIE, nonce, {
        httpOnly: true,
        sameSite: "Strict",
        path: c.var.base || "/",
        secure: new URL(c.req.url).protocol === "https:",
      });
    }
    return sign(nonce);
  }

  /** The browser says the request comes from this origin: Sec-Fetch-Site, or Origin compared with the scheme. */
  function fromThisOrigin(c: Context<Env>): boolean {
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
    return (origins ?? [new URL(c.req.url).origin]).includes(parsed);
  }

  /** A POST must come from a dashboard page: same origin by the browser's word, and the server-signed token. */
  async function sameOriginPost(c: Context<Env>): Promise<boolean> {
    if (!fromThisOrigin(c)) return false;
    const nonce = getCookie(c, CSRF_COOKIE);
    let token: unknown;
    try {
      token = (await c.req.parseBody())._csrf;
    } catch {
      return false; // not a form: not one of ours
    }
    if (typeof nonce !== "string" || !/^[a-z0-9]{32}$/.test(nonce) || typeof token !== "string") return false;
    return timingSafeEqual(await sign(nonce), token);
  }

  /** Store calls: a failure that is not about one recording (not found, corrupt, invalid id) means the storage is unavailable. */
  async function stored<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      outage = false;
      return result;
    } catch (error) {
      if (error instanceof ReplayError) throw error;
      throw new StorageUnavailableError((error as Error)?.message ?? String(error), { cause: error });
    }
  }

  async function load(id: string): Promise<Loaded | undefined> {
    const cached = recordings.get(id);
    if (cached) {
      recordings.delete(id);
      recordings.set(id, cached);
      return cached;
    }
    const active = await stored(() => replay.store.getActive(id));
    if (active) return withPlayer({ recording: active, active: true });
    try {
      const recording = await stored(() => replay.store.getRecording(id));
      const loaded = withPlayer({ recording, active: false });
      recordings.set(id, loaded);
      while (recordings.size > 8) recordings.delete(recordings.keys().next().value!);
      return loaded;
    } catch (error) {
      if (!(error instanceof RecordingNotFoundError)) throw error;
    }
    return undefined;
  }

  function withPlayer(loaded: Loaded): Loaded {
    if (!replay.views[loaded.recording.view]) return loaded;
    loaded.player = replay.player(loaded.recording);
    if (!loaded.active && loaded.player.frameCount > 0) {
      const first = loaded.player.renderFrame(0).html;
      loaded.cacheKey = ["v1", loaded.recording.id, loaded.recording.sizeBytes, shortHash(first), options.cacheVersion ?? ""].join(":");
    }
    return loaded;
  }

  /**
   * Every route about one recording: a valid id, a recording that exists, and
   * authorize(c, recording). Refused and unknown answer the same (no existence
   * leak). A corrupt recording has no readable summary: it is authorized as
   * the dashboard itself is, and handled by `corrupt` (default: a page saying so).
   */
  async function withRecording(
    c: Context<Env>,
    json: boolean,
    handle: (loaded: Loaded) => Response | Promise<Response>,
    corrupt?: (error: CorruptRecordingError) => Response | Promise<Response>,
  ): Promise<Response> {
    const id = c.req.param("id");
    if (!isValidId(id)) {
      const text = "Recording ids are 1-100 characters of A-Z a-z 0-9 _ -.";
      return json ? c.json({ error: text }, 400) : message(c, 400, "Invalid recording id", text);
    }
    const missing = async () => {
      if (!(await allowed(c))) return json ? c.json({ error: "not allowed" }, 403) : denied(c);
      const text = `There is no recording ${id}: it may have been deleted or cleaned up.`;
      return json ? c.json({ error: text }, 404) : message(c, 404, "Recording not found", text);
    };
    let loaded: Loaded | undefined;
    try {
      loaded = await load(id);
    } catch (error) {
      if (!(error instanceof CorruptRecordingError)) throw error;
      if (!(await allowed(c))) return missing();
      corruptIds.set(id, error.message);
      fidelity.set(id, { label: "corrupt", tone: "bad", title: error.message });
      if (corrupt) return corrupt(error);
      return json ? c.json({ error: error.message }, 422) : corruptPage(c, id, error.message);
    }
    if (!loaded || !(await allowed(c, summaryOf(loaded.recording)))) return missing();
    return handle(loaded);
  }

  async function corruptPage(c: Context<Env>, id: string, reason: string): Promise<Response> {
    return htmlPage(
      c,
      422,
      <MessagePage title="Corrupt recording" base={c.var.base} assets={assetsOf(c.var.base)}>
        <p>{reason}</p>
        <form method="post" action={`${c.var.base}/r/${id}/delete`} data-confirm="Delete this corrupt recording? This cannot be undone.">
          <input type="hidden" name="_csrf" value={await csrfToken(c)} />
          <button class="danger" type="submit">Delete it</button>
        </form>
        <p><a href={`${c.var.base}/`}>Back to the recordings</a></p>
      </MessagePage>,
    );
  }

  function needPlayer(c: Context<Env>, loaded: Loaded, json: boolean): Player | Response {
    if (loaded.player) return loaded.player;
    const text = `This recording's view "${loaded.recording.view}" is not registered in createReplay({ views }), so it cannot be replayed.`;
    return json ? c.json({ error: text }, 409) : message(c, 409, "Cannot replay this recording", text);
  }

  function frameHead(c: Context<Env> | undefined): string {
    const sources = [...(c ? [new URL(c.req.url).origin] : []), ...frameSources].join(" ");
    const policy = [
      "default-src 'none'",
      "script-src 'none'",
      `style-src 'unsafe-inline' ${sources}`,
      `img-src data: ${sources}`,
      `font-src data: ${sources}`,
      "form-action 'none'",
      "base-uri 'none'",
    ].map((d) => d.trim()).join("; ");
    return `<meta http-equiv="Content-Security-Policy" content="${escapeAttr(policy)}"><base target="_blank">${options.head ?? ""}`;
  }

  function playerData(c: Context<Env> | undefined, loaded: Loaded, player: Player, initialT: number, mode: PlayerData["mode"]): PlayerData {
    const { recording } = loaded;
    const { events, frames } = timelineRows(recording);
    const frameIndex = Math.max(0, lastAtOrBefore(frames, initialT));
    const base = c?.var.base ?? "";
    const self = `${base}/r/${recording.id}`;
    return {
      mode,
      id: recording.id,
      view: recording.view,
      url: recording.url,
      startedAt: recording.startedAt,
      durationMs: recording.durationMs,
      eventCount: recording.events.length,
      status: statusOf(recording, loaded.active),
      events,
      frames,
      frameHead: frameHead(c),
      initialT,
      initialFrames: frames.length ? renderFrames(player, frameIndex, 1) : [],
      batchSize,
      ...(mode === "server" ? { endpoints: { frames: `${self}/frames`, live: `${self}/live`, page: self } } : {}),
      ...(loaded.cacheKey ? { cacheKey: loaded.cacheKey } : {}),
    };
  }

  // ---- index ----

  async function index(c: Context<Env>): Promise<Response> {
    if (!(await allowed(c))) return denied(c);
    const base = c.var.base;
    const { filter, form } = parseFilter((k) => c.req.query(k));
    const pageResult = await stored(() => replay.store.pageRecordingSummaries({ ...filter, limit: pageSize }));
    const rows: IndexRow[] = [];
    for (const summary of pageResult.items) {
      if (!(await allowed(c, summary))) continue;
      rows.push({
        summary,
        status: corruptIds.has(summary.id) ? { ...statusOf(summary, false), corrupt: corruptIds.get(summary.id) } : statusOf(summary, false),
        href: `${base}/r/${summary.id}`,
        deleteUrl: `${base}/r/${summary.id}/delete`,
        fidelity: fidelity.get(summary.id),
      });
    }
    const active = await activeRows(c, filter);
    const query = (changes: Record<string, string | undefined>) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries({ ...form, ...changes })) if (v) params.set(k, v);
      const text = params.toString();
      return `${base}/${text ? "?" + text : ""}`;
    };
    const sort = filter.sort ?? "startedAt";
    const order = filter.order ?? "desc";
    const notices: Record<string, string> = { deleted: "The recording was deleted.", cleared: "Every finalized recording was deleted." };
    const back = query({ cursor: undefined }).slice(base.length + 1);
    return htmlPage(
      c,
      200,
      <IndexPage
        base={base}
        assets={assetsOf(base)}
        title={title}
        views={Object.keys(replay.views)}
        form={form}
        rows={rows}
        active={active}
        liveUrl={`${base}/live${back}`}
        nextUrl={pageResult.nextCursor ? query({ cursor: pageResult.nextCursor }) : undefined}
        firstUrl={filter.cursor ? query({ cursor: undefined }) : undefined}
        sortUrl={(key) => query({ sort: key, order: sort === key && order === "desc" ? "asc" : "desc", cursor: undefined })}
        sort={sort}
        order={order}
        csrf={await csrfToken(c)}
        back={back}
        notice={notices[c.req.query("notice") ?? ""]}
      />,
    );
  }

  async function activeRows(c: Context<Env>, filter: SummaryFilter): Promise<ActiveRow[]> {
    const rows: ActiveRow[] = [];
    for (const s of await stored(() => replay.store.listActive())) {
      if (!matchesFilter(s, { ...filter, cursor: undefined }) || !(await allowed(c, s))) continue;
      rows.push({ id: s.id, view: s.view, url: s.url, startedAt: s.startedAt, durationMs: s.durationMs, eventCount: s.eventCount, href: `${c.var.base}/r/${s.id}` });
    }
    return rows.sort((a, b) => b.startedAt - a.startedAt);
  }

  app.get("/", (c) => index(c));

  app.get("/assets/:name", async (c) => {
    if (!(await allowed(c))) return denied(c);
    const name = c.req.param("name");
    const body = name === jsName ? clientJs : name === cssName ? dashboardCss : undefined;
    if (body === undefined) return c.text("not found", 404);
    return new Response(body, {
      headers: {
        "content-type": name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
        // private: served only to whom authorize allows, so no shared cache may keep it.
        "cache-control": "private, max-age=31536000, immutable",
      },
    });
  });

  /** The active recordings matching the index's filters, pushed whenever they change. */
  app.get("/live", async (c) => {
    if (!(await allowed(c))) return denied(c);
    const { filter } = parseFilter((k) => c.req.query(k));
    return streamSSE(c, (stream) => endQuietly(async () => {
      let last = "";
      let quiet = 0;
      while (!stream.aborted) {
        const rows = JSON.stringify(await withTimeout(activeRows(c, filter)));
        if (rows !== last) {
          await stream.writeSSE({ event: "active", data: rows });
          last = rows;
          quiet = 0;
        } else if (++quiet >= 15) {
          await stream.write(": ping\n\n");
          quiet = 0;
        }
        await stream.sleep(1000);
      }
    }));
  });

  /** Fidelity of up to 50 finalized recordings: whether every frame re-renders byte-identical. */
  app.get("/fidelity", async (c) => {
    if (!(await allowed(c))) return c.json({ error: "not allowed" }, 403);
    const ids = (c.req.query("ids") ?? "").split(",").filter(Boolean);
    if (ids.length > MAX_FIDELITY_IDS) return c.json({ error: `at most ${MAX_FIDELITY_IDS} ids` }, 400);
    if (!ids.every(isValidId)) return c.json({ error: "invalid recording id" }, 400);
    const out: Record<string, FidelityCell> = {};
    for (const id of ids) {
      let loaded: Loaded | undefined;
      try {
        loaded = await load(id);
      } catch (error) {
        if (!(error instanceof CorruptRecordingError)) throw error;
        corruptIds.set(id, error.message);
        out[id] = { label: "corrupt", tone: "bad", title: error.message };
        fidelity.set(id, out[id]);
        continue;
      }
      if (!loaded || !(await allowed(c, summaryOf(loaded.recording)))) continue;
      out[id] = fidelityOf(loaded);
    }
    return c.json(out);
  });

  function fidelityOf(loaded: Loaded): FidelityCell {
    const id = loaded.recording.id;
    const known = fidelity.get(id);
    if (known) return known;
    let cell: FidelityCell;
    if (!loaded.player) cell = { label: "view not registered", tone: "unknown", title: `view ${loaded.recording.view} is not in createReplay({ views })` };
    else {
      const report = loaded.player.fidelity();
      if (report.unknown === report.frames) {
        cell = { label: "not checked", tone: "unknown", title: "recorded without HTML hashes (fidelity: false)" };
      } else if (report.differing.length === 0) {
        cell = { label: `✓ all ${report.identical} identical`, tone: "ok", title: "every frame re-renders byte-identical to the HTML that was served" };
      } else {
        cell = {
          label: `✗ ${report.differing.length} of ${report.frames} differ`,
          tone: "bad",
          title: `frames ${report.differing.slice(0, 20).map((i) => i + 1).join(", ")}${report.differing.length > 20 ? "…" : ""} re-render differently: does the view read the clock or a global?`,
        };
      }
    }
    if (!loaded.active) {
      fidelity.set(id, cell);
      if (fidelity.size > 20_000) fidelity.delete(fidelity.keys().next().value!);
    }
    return cell;
  }

  app.get("/clear", async (c) => {
    if (!(await allowed(c))) return denied(c);
    const { items, nextCursor } = await stored(() => replay.store.pageRecordingSummaries({ limit: 1000 }));
    return htmlPage(c, 200, <ConfirmClearPage base={c.var.base} assets={assetsOf(c.var.base)} count={`${items.length}${nextCursor ? "+" : ""}`} csrf={await csrfToken(c)} />);
  });

  app.post("/clear", async (c) => {
    if (!(await allowed(c))) return denied(c);
    if (!(await sameOriginPost(c))) return crossSite(c);
    await stored(() => replay.store.clearAll());
    forget();
    return c.redirect(`${c.var.base}/?notice=cleared`, 303);
  });

  const crossSite = (c: Context<Env>) =>
    message(c, 403, "Cross-site request refused", "Deleting needs a form from this dashboard (same origin, with its token). Reload the page and try again.");

  // ---- one recording ----

  app.get("/r/:id", (c) =>
    withRecording(c, false, async (loaded) => {
      const player = needPlayer(c, loaded, false);
      if (player instanceof Response) return player;
      const { recording } = loaded;
      const asked = Number(c.req.query("t"));
      const initialT = Number.isFinite(asked) && c.req.query("t") !== undefined
        ? Math.min(Math.max(0, asked), recording.durationMs)
        : loaded.active ? recording.durationMs : 0;
      const data = playerData(c, loaded, player, initialT, "server");
      const self = `${c.var.base}/r/${recording.id}`;
      return htmlPage(
        c,
        200,
        <PlayerPage
          base={c.var.base}
          title={`${recording.view} · ${title}`}
          assets={assetsOf(c.var.base)}
          data={data}
          summary={summaryOf(recording)}
          links={{
            download: loaded.active ? undefined : `${self}/download`,
            export: `${self}/export`,
            deleteUrl: loaded.active ? undefined : `${self}/delete`,
            csrf: await csrfToken(c),
          }}
        />,
      );
    }));

  app.get("/r/:id/frames", (c) =>
    withRecording(c, true, (loaded) => {
      const player = needPlayer(c, loaded, true);
      if (player instanceof Response) return player;
      const from = Number(c.req.query("from") ?? 0);
      const count = Number(c.req.query("count") ?? batchSize);
      if (!Number.isInteger(from) || from < 0 || !Number.isInteger(count) || count < 1 || count > 500) {
        return c.json({ error: "from must be an integer ≥ 0 and count an integer 1-500" }, 400);
      }
      const batch: FrameBatch = { frames: renderFrames(player, from, count), frameCount: player.frameCount, active: loaded.active };
      return c.json(batch, 200, loaded.active ? {} : { "cache-control": "private, max-age=3600" });
    }));

  /** Server-sent events of an active recording: what was added since the client's count, then the final state. */
  app.get("/r/:id/live", (c) =>
    withRecording(c, true, (loaded) => {
      const id = loaded.recording.id;
      const after = Number(c.req.header("last-event-id") ?? c.req.query("after") ?? 0);
      let known = Number.isInteger(after) && after >= 0 ? after : 0;
      return streamSSE(c, (stream) => endQuietly(async () => {
        let missing = 0;
        let quiet = 0;
        let current: Loaded | undefined = loaded;
        while (!stream.aborted) {
          if (!current) {
            try {
              current = await withTimeout(load(id));
            } catch (error) {
              // The replay is shutting down (or storage is unreachable): end the stream; the browser reconnects.
              if (error instanceof TimeoutError) return;
              current = undefined;
            }
          }
          if (current && current.recording.events.length > known) {
            await stream.writeSSE({ event: "update", id: String(current.recording.events.length), data: JSON.stringify(delta(current, known)) });
            known = current.recording.events.length;
            quiet = 0;
          } else if (current && !current.active) {
            await stream.writeSSE({ event: "update", id: String(known), data: JSON.stringify(delta(current, known)) });
          } else if (++quiet >= 30) {
            await stream.write(": ping\n\n");
            quiet = 0;
          }
          if (current && !current.active) return;
          if (!current && ++missing > 60) {
            // Ended without being kept (a recording with no interaction is discarded).
            await stream.writeSSE({ event: "gone", data: "{}" });
            return;
          }
          await stream.sleep(500);
          current = undefined;
        }
      }));
    }));

  function delta(loaded: Loaded, known: number): LiveUpdate {
    const { recording } = loaded;
    let framesBefore = 0;
    for (let e = 0; e < known && e < recording.events.length; e++) {
      const kind = recording.events[e].kind;
      if (kind === "mount" || kind === "render" || kind === "island") framesBefore++;
    }
    const { events, frames } = timelineRows(recording, Math.min(known, recording.events.length), framesBefore);
    const update: LiveUpdate = { events, frames, durationMs: recording.durationMs, eventCount: recording.events.length };
    if (!loaded.active && loaded.cacheKey) {
      update.final = { cacheKey: loaded.cacheKey, sizeBytes: recording.sizeBytes, status: statusOf(recording, false) };
    }
    return update;
  }

  app.get("/r/:id/download", (c) =>
    withRecording(c, false, async (loaded) => {
      if (loaded.active) return message(c, 409, "Still recording", "A recording can be downloaded once it has ended.");
      let bytes: Uint8Array;
      try {
        bytes = await stored(() => replay.store.storage.load(loaded.recording.id));
      } catch (error) {
        if (!(error instanceof RecordingNotFoundError)) throw error;
        forget(loaded.recording.id);
        return message(c, 404, "Recording not found", "It was deleted or cleaned up since it was opened.");
      }
      return new Response(bytes as unknown as BodyInit, {
        headers: {
          "content-type": "application/octet-stream",
          "content-disposition": `attachment; filename="${loaded.recording.id}.hrp"`,
          "content-length": String(bytes.length),
        },
      });
    }));

  /** One self-contained HTML file: every frame pre-rendered and gzipped inside, the client inline; plays offline. */
  app.get("/r/:id/export", (c) =>
    withRecording(c, false, async (loaded) => {
      const player = needPlayer(c, loaded, false);
      if (player instanceof Response) return player;
      const { recording } = loaded;
      const data = playerData(undefined, loaded, player, 0, "export");
      const frames = renderFrames(player, 0, player.frameCount, Infinity);
      const embedded = base64(gzipSync(new TextEncoder().encode(JSON.stringify(frames)), { level: 6 }));
      scriptHash ??= sha256Base64(clientJs);
      const policy = [
        "default-src 'none'",
        `script-src 'sha256-${await scriptHash}'`,
        "style-src 'unsafe-inline'",
        "img-src data:",
        "font-src data:",
        "base-uri 'none'",
        "form-action 'none'",
      ].join("; ");
      const html = page(
        <PlayerPage
          base=""
          title={`${recording.view} ${new Date(recording.startedAt).toISOString().slice(0, 16)} · hono-replay export`}
          data={data}
          summary={summaryOf(recording)}
          inline={{ css: dashboardCss, js: clientJs, csp: policy }}
          embeddedFrames={embedded}
        />,
      );
      return new Response(html, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-disposition": `attachment; filename="replay-${recording.view.replace(/[^\w-]/g, "_")}-${recording.id}.html"`,
          "content-security-policy": policy,
        },
      });
    }));

  app.post("/r/:id/delete", async (c) => {
    const remove = async (id: string) => {
      if (!(await sameOriginPost(c))) return crossSite(c);
      await stored(() => replay.store.deleteRecording(id));
      forget(id);
      let back = "";
      try {
        const body = await c.req.parseBody();
        back = typeof body.back === "string" ? body.back : "";
      } catch {
        back = ""; // parsed once already by sameOriginPost; no body means the first page
      }
      const params = new URLSearchParams(back.startsWith("?") ? back.slice(1) : "");
      const { form } = parseFilter((k) => params.get(k) ?? undefined);
      const kept = new URLSearchParams(Object.entries(form).filter(([, v]) => v));
      kept.set("notice", "deleted");
      return c.redirect(`${c.var.base}/?${kept}`, 303);
    };
    return withRecording(
      c,
      false,
      (loaded) => loaded.active ? message(c, 409, "Still recording", "An active recording cannot be deleted; it can be once it has ended.") : remove(loaded.recording.id),
      // A corrupt recording can be deleted by whoever may use the dashboard: its summary cannot be read to ask about it.
      (error) => remove(error.id),
    );
  });

  app.all("*", async (c) => {
    if (!(await allowed(c))) return denied(c);
    return message(c, 404, "Not found", `Nothing at ${c.req.path} in the replay dashboard.`);
  });

  /** The storage is down: a plain 503 that says so (details in the server log, once per outage), never a stack trace. */
  app.onError((error, c) => {
    const ctx = c as Context<Env>;
    if (ctx.var.base === undefined) ctx.set("base", options.basePath?.replace(/\/+$/, "") ?? "");
    let res: Response;
    if (error instanceof StorageUnavailableError) {
      if (!outage) {
        outage = true;
        console.error(`hono-replay dashboard: the recording storage is unavailable (${error.message}); answering 503 until it is back`);
      }
      res = message(ctx, 503, "Storage unavailable", "The recording storage is unavailable right now, so recordings cannot be shown. The dashboard recovers by itself once the storage is back: reload in a moment.");
      res.headers.set("retry-after", "5");
    } else {
      console.error("hono-replay dashboard: a request failed:", error);
      res = message(ctx, 500, "Something went wrong", "The dashboard failed to answer this request; the server log has the details.");
    }
    secure(res.headers);
    return res;
  });

  return app;
}

class TimeoutError extends Error {}

/** Requests to a closed replay never settle; a stream must not wait on them forever. */
function withTimeout<T>(work: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new TimeoutError("timed out")), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A stream that fails just ends (the browser's EventSource reconnects), without telling the browser why. */
async function endQuietly(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch {
    // ended
  }
}

function NotConfigured(props: { base: string }) {
  return (
    <MessagePage title="The replay dashboard is not configured" base={props.base}>
      <p>
        Recordings hold what your users saw and typed, so the dashboard refuses to serve anything until you say who may see it. Give an{" "}
        <code>authorize</code> callback; it receives the request context and, for routes about one recording, the recording's summary:
      </p>
      <pre>{`app.route("/replay", replay.dashboard({
  authorize: (c, recording) => isAdmin(c),
}));`}</pre>
      <p>For a development server on your own machine only, allow everyone explicitly:</p>
      <pre>{`app.route("/replay", replay.dashboard({ dangerouslyAllowOpenAccess: true }));`}</pre>
    </MessagePage>
  );
}

/** The mount point: as many leading segments of the path as the middleware's pattern has before "/*". */
function baseOf(routePath: string, path: string): string {
  const segments = routePath.split("/").filter(Boolean);
  if (segments[segments.length - 1] === "*") segments.pop();
  if (segments.length === 0) return "";
  return "/" + path.split("/").filter(Boolean).slice(0, segments.length).join("/");
}

function summaryOf(recording: Recording): RecordingSummary {
  const { events: _events, ...summary } = recording;
  return summary;
}

const SORTS: SortKey[] = ["startedAt", "durationMs", "eventCount", "sizeBytes"];

/** The index's query string as a storage filter, and the values to put back in the form. */
export function parseFilter(get: (key: string) => string | undefined): { filter: SummaryFilter; form: Record<string, string> } {
  const filter: SummaryFilter = {};
  const form: Record<string, string> = {};
  const text = (key: string, max = 200) => {
    const v = get(key)?.trim();
    if (!v) return undefined;
    form[key] = v.slice(0, max);
    return form[key];
  };
  const q = text("q");
  if (q) filter.text = q;
  const view = text("view");
  if (view) filter.view = view;
  const url = text("url");
  if (url) filter.urlContains = url;
  const event = text("event");
  if (event) filter.eventName = event;
  for (const key of ["from", "to"] as const) {
    const v = text(key, 40);
    if (!v) continue;
    const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : v + "Z");
    if (Number.isFinite(ms)) filter[key] = ms;
    else delete form[key];
  }
  const minDuration = Number(text("minDuration", 20));
  if (form.minDuration !== undefined) {
    if (Number.isFinite(minDuration) && minDuration >= 0) filter.minDurationMs = minDuration * 1000;
    else delete form.minDuration;
  }
  const minEvents = Number(text("minEvents", 20));
  if (form.minEvents !== undefined) {
    if (Number.isInteger(minEvents) && minEvents >= 0) filter.minEvents = minEvents;
    else delete form.minEvents;
  }
  const sort = text("sort", 20);
  if (sort && (SORTS as string[]).includes(sort)) filter.sort = sort as SortKey;
  else delete form.sort;
  const order = text("order", 4);
  if (order === "asc" || order === "desc") filter.order = order;
  else delete form.order;
  const cursor = text("cursor", 300);
  if (cursor) filter.cursor = cursor;
  return { filter, form };
}

function clampInt(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(Number.isFinite(n) ? n : lo)));
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function base64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64(new Uint8Array(digest));
}
