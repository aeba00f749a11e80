/**
 * The index's "Corrupt recordings" section: stored files that cannot be read
 * (`replay.store.listCorrupt()`: truncated, emptied, left out of a rebuilt
 * index), each with the reason, its size and when it was last written, a link
 * to its page and a form to delete it.
 *
 * Invariants, and why:
 * - Every recording the store reports is listed, whether or not its summary is
 *   still in the index: one a rebuilt index left out appears nowhere else, and
 *   would wait unseen for cleanup.
 * - A corrupt recording has no readable summary to ask `authorize` about: it
 *   is shown to whoever may see the index (as its page and its delete route
 *   are allowed, recording_route.tsx).
 * - Deleting is the dashboard's one delete route (`POST /r/:id/delete`), so
 *   the same origin and CSRF checks apply (csrf.ts).
 * - At most MAX_SHOWN rows: the page stays small however many files broke;
 *   the rest are counted, and cleanup removes them by age.
 */

import type { CorruptRecording } from "../storage/mod.ts";
import { formatBytes, formatStart } from "./shared.ts";

const MAX_SHOWN = 100;

export interface CorruptListProps {
  base: string;
  corrupt: CorruptRecording[];
  csrf: string;
  back: string;
}

export function CorruptList(p: CorruptListProps) {
  if (p.corrupt.length === 0) return null;
  const hidden = p.corrupt.length - MAX_SHOWN;
  return (
    <section class="card" id="corrupt">
      <h2>Corrupt recordings <small>{p.corrupt.length}</small></h2>
      <p class="muted">
        Stored files that cannot be read (truncated, emptied or damaged): they cannot be replayed. Delete them, or restore them from a
        backup; cleanup removes them once they are older than maxRecordingAgeMs.
      </p>
      <table class="recordings corrupt">
        <thead>
          <tr><th>Recording</th><th>Reason</th><th class="num">Size</th><th>Last written</th><th></th></tr>
        </thead>
        <tbody>
          {p.corrupt.slice(0, MAX_SHOWN).map((c) => <CorruptRow item={c} {...p} />)}
        </tbody>
      </table>
      {hidden > 0 && <p class="muted" id="corrupt-more">{hidden} more not shown.</p>}
    </section>
  );
}

function CorruptRow(props: { item: CorruptRecording; base: string; csrf: string; back: string }) {
  const { item, base } = props;
  return (
    <tr data-corrupt-id={item.id}>
      <td><a href={`${base}/r/${item.id}`}>{item.id}</a></td>
      <td class="reason">{item.reason}</td>
      <td class="num">{formatBytes(item.sizeBytes)}</td>
      <td>{formatStart(item.modifiedAt)}</td>
      <td>
        <form method="post" action={`${base}/r/${item.id}/delete`} data-confirm="Delete this corrupt recording? This cannot be undone.">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="back" value={props.back} />
          <button class="danger" type="submit">Delete</button>
        </form>
      </td>
    </tr>
  );
}
