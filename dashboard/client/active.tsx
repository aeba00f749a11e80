/** The index's "active now" table: rendered by the server, then kept current over server-sent events. */

import { useEffect, useState } from "preact/hooks";
import { type ActiveRow, formatDuration, formatStart } from "../shared.ts";

export function ActiveNow(props: { rows: ActiveRow[]; liveUrl?: string; indexUrl?: string }) {
  const [rows, setRows] = useState(props.rows);
  const [ended, setEnded] = useState(0);
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    if (!props.liveUrl || typeof EventSource === "undefined") return;
    const es = new EventSource(props.liveUrl);
    let known = new Set(props.rows.map((r) => r.id));
    es.addEventListener("open", () => setConnected(true));
    es.addEventListener("error", () => setConnected(false));
    es.addEventListener("active", (message) => {
      const next = JSON.parse((message as MessageEvent).data) as ActiveRow[];
      const ids = new Set(next.map((r) => r.id));
      const gone = [...known].filter((id) => !ids.has(id)).length;
      if (gone) setEnded((n) => n + gone);
      known = ids;
      setRows(next);
    });
    return () => es.close();
  }, []);

  return (
    <section class="active" id="active" data-count={String(rows.length)}>
      <h2>
        Active now <small>{rows.length}</small>{" "}
        {props.liveUrl && <span class={connected ? "pulse on" : "pulse"} title={connected ? "updating live" : "connecting…"}>● live</span>}
      </h2>
      {ended > 0 && (
        <p class="ended" id="ended">
          {ended} recording{ended === 1 ? "" : "s"} ended since this page loaded — <a href={props.indexUrl ?? ""}>reload</a> to list {ended === 1 ? "it" : "them"}.
        </p>
      )}
      {rows.length === 0 ? (
        <p class="muted">No session is being recorded right now.</p>
      ) : (
        <table class="recordings">
          <thead>
            <tr><th>Started</th><th>View</th><th>URL</th><th>Duration</th><th>Events</th><th>Status</th></tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr data-id={r.id}>
                <td><a href={r.href}>{formatStart(r.startedAt)}</a></td>
                <td>{r.view}</td>
                <td class="url" title={r.url}>{r.url}</td>
                <td>{formatDuration(r.durationMs)}</td>
                <td class="num">{r.eventCount}</td>
                <td><span class="status status-active">active</span></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
