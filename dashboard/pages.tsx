/**
 * The dashboard's pages, rendered on the server with Preact. Recorded data only
 * ever reaches them as text children or attribute values (escaped by Preact) or
 * as JSON inside a non-executed <script type="application/json"> (with "<"
 * escaped so it cannot close the element).
 */

import type { ComponentChildren, VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import type { RecordingSummary } from "../format/mod.ts";
import type { SortKey } from "../storage/mod.ts";
import { ActiveNow } from "./client/active.tsx";
import { PlayerApp } from "./client/player.tsx";
import { statusLabels } from "./data.ts";
import { type ActiveRow, formatBytes, formatDuration, formatStart, type PlayerData, type RecordingStatus } from "./shared.ts";

export interface Assets {
  css: string;
  js: string;
}

export function page(vnode: VNode): string {
  return "<!DOCTYPE html>" + renderToString(vnode);
}

/** JSON that is safe inside a <script> element: no "<" (so no "</script>" or "<!--"), no line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function JsonData(props: { id: string; value: unknown }) {
  return <script type="application/json" id={props.id} dangerouslySetInnerHTML={{ __html: scriptJson(props.value) }} />;
}

export function Layout(props: {
  title: string;
  base: string;
  assets?: Assets;
  children: ComponentChildren;
  bodyData?: Record<string, string>;
  /** Exports: everything inline, the policy in a meta element. */
  inline?: { css: string; js: string; csp: string };
  nav?: boolean;
}) {
  const body: Record<string, string> = {};
  for (const [k, v] of Object.entries(props.bodyData ?? {})) body[`data-${k}`] = v;
  return (
    <html lang="en">
      <head>
        {props.inline && <meta http-equiv="Content-Security-Policy" content={props.inline.csp} />}
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{props.title}</title>
        <link rel="icon" href="data:," />
        {props.inline ? <style dangerouslySetInnerHTML={{ __html: props.inline.css }} /> : props.assets && <link rel="stylesheet" href={props.assets.css} />}
        {props.assets && !props.inline && <script src={props.assets.js} defer />}
      </head>
      <body {...body}>
        <header class="top">
          <a class="brand" href={props.inline ? undefined : `${props.base}/`}>hono-<span>replay</span></a>
          {props.nav !== false && (
            <nav>
              <a href={`${props.base}/`}>Recordings</a>
            </nav>
          )}
        </header>
        {props.children}
        {props.inline && <script dangerouslySetInnerHTML={{ __html: props.inline.js }} />}
      </body>
    </html>
  );
}

export interface IndexRow {
  summary: RecordingSummary;
  status: RecordingStatus;
  href: string;
  deleteUrl: string;
  fidelity?: FidelityCell;
}

export interface FidelityCell {
  label: string;
  tone: "ok" | "bad" | "unknown";
  title: string;
}

export interface IndexPageProps {
  base: string;
  assets: Assets;
  title: string;
  views: string[];
  form: Record<string, string>;
  rows: IndexRow[];
  active: ActiveRow[];
  liveUrl: string;
  nextUrl?: string;
  firstUrl?: string;
  sortUrl: (key: SortKey) => string;
  sort: SortKey;
  order: "asc" | "desc";
  csrf: string;
  back: string;
  notice?: string;
}

export function IndexPage(p: IndexPageProps) {
  const input = (name: string) => p.form[name] ?? "";
  const sortHeader = (key: SortKey, label: string) => (
    <th class={key === "startedAt" ? "" : "num"}>
      <a href={p.sortUrl(key)} class={p.sort === key ? "sorted" : ""} data-sort={key}>
        {label}
        {p.sort === key ? (p.order === "desc" ? " ▼" : " ▲") : ""}
      </a>
    </th>
  );
  return (
    <Layout title={p.title} base={p.base} assets={p.assets} bodyData={{ "fidelity-url": `${p.base}/fidelity` }}>
      <main>
        {p.notice && <div class="notice-bar" id="notice">{p.notice}</div>}
        <div class="card">
          <form class="filters" id="filters" method="get" action={`${p.base}/`}>
            <label>Search<input class="wide" type="search" name="q" value={input("q")} placeholder="view, URL or event name" /></label>
            <label>View
              <select name="view">
                <option value="">any</option>
                {p.views.map((v) => <option value={v} selected={input("view") === v}>{v}</option>)}
              </select>
            </label>
            <label>URL contains<input name="url" value={input("url")} placeholder="/signup" /></label>
            <label>Event name<input name="event" value={input("event")} placeholder="validate" /></label>
            <label>From (UTC)<input type="datetime-local" name="from" value={input("from")} /></label>
            <label>To (UTC)<input type="datetime-local" name="to" value={input("to")} /></label>
            <label>Min duration (s)<input type="number" min="0" step="any" name="minDuration" value={input("minDuration")} /></label>
            <label>Min events<input type="number" min="0" step="1" name="minEvents" value={input("minEvents")} /></label>
            <label>Sort
              <select name="sort">
                {(["startedAt", "durationMs", "eventCount", "sizeBytes"] as const).map((k) => (
                  <option value={k} selected={p.sort === k}>{({ startedAt: "start", durationMs: "duration", eventCount: "events", sizeBytes: "size" })[k]}</option>
                ))}
              </select>
            </label>
            <label>Order
              <select name="order">
                <option value="desc" selected={p.order === "desc"}>descending</option>
                <option value="asc" selected={p.order === "asc"}>ascending</option>
              </select>
            </label>
            <button class="primary" type="submit">Apply</button>
            <a class="button" href={`${p.base}/`}>Reset</a>
          </form>
        </div>
        <div class="card" id="active-root">
          <ActiveNow rows={p.active} liveUrl={p.liveUrl} indexUrl={`${p.base}/${p.back}`} />
        </div>
        <JsonData id="active-data" value={{ rows: p.active, liveUrl: p.liveUrl, indexUrl: `${p.base}/${p.back}` }} />
        <section class="card">
          <div class="title-row">
            <h2>Recordings <small>{p.rows.length}{p.nextUrl ? "+" : ""} on this page</small></h2>
            <div class="actions"><a class="button danger" id="clear-all" href={`${p.base}/clear`}>Clear all…</a></div>
          </div>
          {p.rows.length === 0 ? (
            <p class="muted" id="empty">No finalized recording matches.</p>
          ) : (
            <table class="recordings" id="recordings">
              <thead>
                <tr>
                  {sortHeader("startedAt", "Started")}
                  <th>View</th>
                  <th>URL</th>
                  {sortHeader("durationMs", "Duration")}
                  {sortHeader("eventCount", "Events")}
                  {sortHeader("sizeBytes", "Size")}
                  <th>Status</th>
                  <th>Fidelity</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {p.rows.map((r) => (
                  <tr data-id={r.summary.id}>
                    <td><a href={r.href}>{formatStart(r.summary.startedAt)}</a></td>
                    <td class="view">{r.summary.view}</td>
                    <td class="url" title={r.summary.url}>{pathOf(r.summary.url)}</td>
                    <td class="num">{formatDuration(r.summary.durationMs)}</td>
                    <td class="num">{r.summary.eventCount}</td>
                    <td class="num">{formatBytes(r.summary.sizeBytes)}</td>
                    <td class="status-cell"><Status status={r.status} /></td>
                    {r.fidelity
                      ? <td class={`fidelity ${r.fidelity.tone}`} title={r.fidelity.title}>{r.fidelity.label}</td>
                      : <td class="fidelity unknown" data-fidelity-pending={r.summary.id}>…</td>}
                    <td>
                      <form method="post" action={r.deleteUrl} data-confirm="Delete this recording? This cannot be undone.">
                        <input type="hidden" name="_csrf" value={p.csrf} />
                        <input type="hidden" name="back" value={p.back} />
                        <button class="danger" type="submit">Delete</button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div class="pager">
            {p.firstUrl && <a class="button" id="first-page" href={p.firstUrl}>« First page</a>}
            {p.nextUrl && <a class="button" id="next-page" href={p.nextUrl}>Next page »</a>}
          </div>
        </section>
      </main>
    </Layout>
  );
}

export function Status(props: { status: RecordingStatus }) {
  return (
    <>
      {statusLabels(props.status).map((label) => (
        <span class={`status status-${label.replace(/^\d+ /, "")}`} title={label === "corrupt" ? props.status.corrupt : undefined}>{label}</span>
      ))}
    </>
  );
}

export interface PlayerPageProps {
  base: string;
  title: string;
  assets?: Assets;
  data: PlayerData;
  summary: RecordingSummary;
  links?: { download?: string; export: string; deleteUrl?: string; csrf: string };
  inline?: { css: string; js: string; csp: string };
  /** Exports: every frame, gzipped JSON in base64. */
  embeddedFrames?: string;
}

export function PlayerPage(p: PlayerPageProps) {
  const { summary, data } = p;
  return (
    <Layout title={p.title} base={p.base} assets={p.assets} inline={p.inline} nav={!p.inline}>
      <main>
        <div class="title-row">
          <h1>{summary.view} <small>{pathOf(summary.url)}</small></h1>
          {p.links && (
            <div class="actions">
              {p.links.download && <a class="button" id="download" href={p.links.download} download>Download recording</a>}
              <a class="button" id="export" href={p.links.export} download>Export as HTML</a>
              {p.links.deleteUrl && (
                <form method="post" action={p.links.deleteUrl} data-confirm="Delete this recording? This cannot be undone.">
                  <input type="hidden" name="_csrf" value={p.links.csrf} />
                  <button class="danger" type="submit">Delete</button>
                </form>
              )}
            </div>
          )}
        </div>
        <div class="meta" id="meta">
          <span>Started <b>{formatStart(summary.startedAt)}</b></span>
          <span>Duration <b>{formatDuration(summary.durationMs)}</b></span>
          <span>Events <b>{summary.eventCount}</b></span>
          <span>Frames <b>{data.frames.length}</b></span>
          {summary.sizeBytes > 0 && <span>Size <b>{formatBytes(summary.sizeBytes)}</b></span>}
          <span>Session <b>{summary.sessionKey}</b></span>
          <span class="status-cell"><Status status={data.status} /></span>
          <span title={summary.url}>URL <b>{summary.url}</b></span>
        </div>
        <div id="player-root">
          <PlayerApp data={data} />
        </div>
        <p class="keys">
          Keyboard: <kbd>space</kbd> play/pause · <kbd>←</kbd> <kbd>→</kbd> previous/next event · <kbd>Home</kbd> <kbd>End</kbd> start/end.
          {p.inline ? " Exported from hono-replay; plays offline." : " Finalized recordings are cached in this browser."}
        </p>
        <JsonData id="player-data" value={data} />
        {p.embeddedFrames !== undefined && <script type="application/octet-stream" id="frames-gz" dangerouslySetInnerHTML={{ __html: p.embeddedFrames }} />}
      </main>
    </Layout>
  );
}

export function MessagePage(props: { title: string; base: string; assets?: Assets; children: ComponentChildren }) {
  return (
    <Layout title={props.title} base={props.base} assets={props.assets}>
      <main class="error-page card">
        <h1>{props.title}</h1>
        {props.children}
      </main>
    </Layout>
  );
}

export function ConfirmClearPage(props: { base: string; assets: Assets; count: string; csrf: string }) {
  return (
    <MessagePage title="Delete every recording?" base={props.base} assets={props.assets}>
      <p>This deletes {props.count} finalized recordings from storage. Active recordings keep recording. It cannot be undone.</p>
      <form method="post" action={`${props.base}/clear`} id="confirm-clear">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <button class="danger" type="submit">Yes, delete them all</button> <a class="button" href={`${props.base}/`}>Cancel</a>
      </form>
    </MessagePage>
  );
}

export function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}
