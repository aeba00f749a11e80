/**
 * The index page: what this instance did not record, the filters, the active
 * recordings (kept current by the client), one page of finalized ones, and
 * the stored recordings that cannot be read (corrupt_list.tsx).
 * Rendered on the server; recorded data only as text and attribute values
 * (escaped by Preact), or as JSON in a non-executed script element.
 */

import type { RecordingSummary } from "../format/mod.ts";
import type { CorruptRecording, SortKey } from "../storage/mod.ts";
import { ActiveNow } from "./client/active.tsx";
import { CorruptList } from "./corrupt_list.tsx";
import { type Assets, JsonData, Layout, Status } from "./pages.tsx";
import { type ActiveRow, type FidelityCell, formatBytes, formatDuration, formatStart, pathOf, type RecordingStatus } from "./shared.ts";

export interface IndexRow {
  summary: RecordingSummary;
  status: RecordingStatus;
  href: string;
  deleteUrl: string;
  fidelity?: FidelityCell;
}

/** Counters of this instance since it started (replay.engine, and the dashboard's own). */
export interface RecorderStats {
  /** Requests of sessions not recorded because `maxActiveRecordings` sessions were being recorded. */
  capped: number;
  /** Frames the recorder dropped (its buffer to the persistence worker was full). */
  dropped: number;
  recorderErrors: number;
  /** Renders not recorded: not served as a string, or not told apart from a concurrent request's. */
  unservedRenders: number;
  /** Times the persistence worker was restarted. */
  restarts: number;
  /** The dashboard's live streams that ended with an error. */
  streamErrors: number;
}

export interface IndexPageProps {
  base: string;
  assets: Assets;
  title: string;
  views: string[];
  form: Record<string, string>;
  rows: IndexRow[];
  /** Stored recordings that cannot be read (`replay.store.listCorrupt()`), newest first. */
  corrupt: CorruptRecording[];
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
  stats: RecorderStats;
}

export function IndexPage(p: IndexPageProps) {
  const indexUrl = `${p.base}/${p.back}`;
  return (
    <Layout title={p.title} base={p.base} assets={p.assets} bodyData={{ "fidelity-url": `${p.base}/fidelity` }}>
      <main>
        {p.notice && <div class="notice-bar" id="notice">{p.notice}</div>}
        <StatsLine stats={p.stats} />
        <div class="card">
          <Filters base={p.base} views={p.views} form={p.form} sort={p.sort} order={p.order} />
        </div>
        <div class="card" id="active-root">
          <ActiveNow rows={p.active} liveUrl={p.liveUrl} indexUrl={indexUrl} />
        </div>
        <JsonData id="active-data" value={{ rows: p.active, liveUrl: p.liveUrl, indexUrl }} />
        <section class="card">
          <div class="title-row">
            <h2>Recordings <small>{p.rows.length}{p.nextUrl ? "+" : ""} on this page</small></h2>
            <div class="actions"><a class="button danger" id="clear-all" href={`${p.base}/clear`}>Clear all…</a></div>
          </div>
          {p.rows.length === 0 ? <p class="muted" id="empty">No finalized recording matches.</p> : <RecordingsTable {...p} />}
          <div class="pager">
            {p.firstUrl && <a class="button" id="first-page" href={p.firstUrl}>« First page</a>}
            {p.nextUrl && <a class="button" id="next-page" href={p.nextUrl}>Next page »</a>}
          </div>
        </section>
        <CorruptList base={p.base} corrupt={p.corrupt} csrf={p.csrf} back={p.back} />
      </main>
    </Layout>
  );
}

/** What was not recorded, always shown (zeros included): a recorder that silently records less is the failure to see. */
function StatsLine(props: { stats: RecorderStats }) {
  const s = props.stats;
  const items: [key: string, count: number, label: string, title: string][] = [
    ["capped", s.capped, "requests not recorded (active-recording cap)", "sessions past maxActiveRecordings are served but not recorded; counted per request"],
    ["dropped", s.dropped, "frames dropped", "the recorder's buffer to the persistence worker was full"],
    ["recorder-errors", s.recorderErrors, "recorder errors", "see the server log"],
    ["unserved", s.unservedRenders, "renders not recorded", "not served as a string through c.html/c.body, or not told apart from a concurrent request's"],
    ["restarts", s.restarts, "worker restarts", "the persistence worker was restarted"],
    ["stream-errors", s.streamErrors, "live-stream errors", "the dashboard's live streams that ended with an error; see the server log"],
  ];
  return (
    <p class="stats" id="stats">
      This instance since it started:{" "}
      {items.map(([key, count, label, title]) => (
        <span class={count > 0 ? "stat warn" : "stat"} data-stat={key} title={title}><b>{count}</b> {label}</span>
      ))}
    </p>
  );
}

const SORT_LABELS: Record<SortKey, string> = { startedAt: "start", durationMs: "duration", eventCount: "events", sizeBytes: "size" };

function Filters(p: { base: string; views: string[]; form: Record<string, string>; sort: SortKey; order: "asc" | "desc" }) {
  const input = (name: string) => p.form[name] ?? "";
  return (
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
          {(Object.keys(SORT_LABELS) as SortKey[]).map((k) => <option value={k} selected={p.sort === k}>{SORT_LABELS[k]}</option>)}
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
  );
}

function RecordingsTable(p: IndexPageProps) {
  const sortHeader = (key: SortKey, label: string) => (
    <th class={key === "startedAt" ? "" : "num"}>
      <a href={p.sortUrl(key)} class={p.sort === key ? "sorted" : ""} data-sort={key}>
        {label}
        {p.sort === key ? (p.order === "desc" ? " ▼" : " ▲") : ""}
      </a>
    </th>
  );
  return (
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
        {p.rows.map((r) => <RecordingRow row={r} csrf={p.csrf} back={p.back} />)}
      </tbody>
    </table>
  );
}

function RecordingRow(props: { row: IndexRow; csrf: string; back: string }) {
  const { summary, fidelity } = props.row;
  return (
    <tr data-id={summary.id}>
      <td><a href={props.row.href}>{formatStart(summary.startedAt)}</a></td>
      <td class="view">{summary.view}</td>
      <td class="url" title={summary.url}>{pathOf(summary.url)}</td>
      <td class="num">{formatDuration(summary.durationMs)}</td>
      <td class="num">{summary.eventCount}</td>
      <td class="num">{formatBytes(summary.sizeBytes)}</td>
      <td class="status-cell"><Status status={props.row.status} /></td>
      {fidelity
        ? <td class={`fidelity ${fidelity.tone}`} title={fidelity.title}>{fidelity.label}</td>
        : <td class="fidelity unknown" data-fidelity-pending={summary.id}>…</td>}
      <td>
        <form method="post" action={props.row.deleteUrl} data-confirm="Delete this recording? This cannot be undone.">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="back" value={props.back} />
          <button class="danger" type="submit">Delete</button>
        </form>
      </td>
    </tr>
  );
}
