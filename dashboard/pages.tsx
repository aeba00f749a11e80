/**
 * The dashboard's pages, rendered on the server with Preact. Recorded data only
 * ever reaches them as text children or attribute values (escaped by Preact) or
 * as JSON inside a non-executed <script type="application/json"> (with "<"
 * escaped so it cannot close the element).
 */

import type { ComponentChildren, VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import type { RecordingSummary } from "../format/mod.ts";
import { PlayerApp } from "./client/player.tsx";
import { statusLabels } from "./data.ts";
import { formatBytes, formatDuration, formatStart, pathOf, type PlayerData, type RecordingStatus } from "./shared.ts";

export interface Assets {
  css: string;
  js: string;
}

export function page(vnode: VNode): string {
  return "<!DOCTYPE html>" + renderToString(vnode);
}

/** JSON that is safe inside a <script> element: no "<" (so no "</script>" or "<!--"), no line separators. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function JsonData(props: { id: string; value: unknown }) {
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
  // Every served page (not an export) tells the client where to ask which cached recordings it may keep.
  const data = props.inline ? props.bodyData : { "cached-url": `${props.base}/cached`, ...props.bodyData };
  for (const [k, v] of Object.entries(data ?? {})) body[`data-${k}`] = v;
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
