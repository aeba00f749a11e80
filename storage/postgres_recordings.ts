/**
 * Finalized recordings of a PostgreSQL storage (postgres.ts): one row each in
 * the main table.
 *
 * Invariants, and why:
 * - Summaries are columns, so listing reads no recording data; filters,
 *   sorting and cursor paging run in SQL on the indexes (postgres_schema.ts).
 * - `delete(id)`, `clear()` and `cleanup()` remove a recording's segments and
 *   claim with it, in the same statement or transaction: erasure covers active
 *   recordings. `clear()` keeps the shared secret's row and the erasure marks.
 * - Cleanup takes a transaction-scoped advisory lock, so instances that run
 *   it at once delete each recording once, and only what the policy names.
 */

import { assertValidId, type Format, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { makeCursor, parseCursor } from "./filter.ts";
import type { PostgresContext } from "./postgres_connection.ts";
import { SECRET_ROW } from "./postgres_schema.ts";
import type { CleanupPolicy, SortKey, SummaryFilter, SummaryPage } from "./types.ts";

const SORT_COLUMNS: Record<SortKey, string> = {
  startedAt: "started_at",
  durationMs: "duration_ms",
  eventCount: "event_count",
  sizeBytes: "size_bytes",
};

const SUMMARY_COLUMNS =
  "id, view, url, session_key, started_at, duration_ms, event_count, event_names, truncated, dropped, recovered, format, size_bytes";

interface SummaryRow {
  id: string;
  view: string;
  url: string;
  session_key: string;
  started_at: Date;
  duration_ms: number;
  event_count: number;
  event_names: string[];
  truncated: boolean;
  dropped: number;
  recovered: boolean;
  format: Format;
  size_bytes: number;
}

function toSummary(row: SummaryRow): RecordingSummary {
  return {
    id: row.id,
    view: row.view,
    url: row.url,
    sessionKey: row.session_key,
    startedAt: row.started_at.getTime(),
    durationMs: row.duration_ms,
    eventCount: row.event_count,
    eventNames: row.event_names ?? [],
    truncated: row.truncated,
    dropped: row.dropped,
    recovered: row.recovered,
    format: row.format,
    sizeBytes: row.size_bytes,
  };
}

export async function saveRecording({ db, table }: PostgresContext, summary: RecordingSummary, bytes: Uint8Array): Promise<void> {
  assertValidId(summary.id);
  const sql = await db();
  await sql`
    INSERT INTO ${sql(table)} (id, view, url, session_key, started_at, duration_ms, event_count, event_names,
                               truncated, dropped, recovered, format, size_bytes, data)
    VALUES (${summary.id}, ${summary.view}, ${summary.url ?? ""}, ${summary.sessionKey ?? ""}, ${new Date(summary.startedAt)},
            ${summary.durationMs}, ${summary.eventCount}, ${sql.array(summary.eventNames ?? [])}, ${!!summary.truncated},
            ${summary.dropped ?? 0}, ${!!summary.recovered}, ${summary.format}, ${summary.sizeBytes}, ${bytes})
    ON CONFLICT (id) DO UPDATE SET
      view = excluded.view, url = excluded.url, session_key = excluded.session_key, started_at = excluded.started_at,
      duration_ms = excluded.duration_ms, event_count = excluded.event_count, event_names = excluded.event_names,
      truncated = excluded.truncated, dropped = excluded.dropped, recovered = excluded.recovered,
      format = excluded.format, size_bytes = excluded.size_bytes, data = excluded.data, inserted_at = now()`;
}

export async function loadRecording({ db, table }: PostgresContext, id: string): Promise<Uint8Array> {
  assertValidId(id);
  const sql = await db();
  const rows = await sql<{ data: Uint8Array }[]>`SELECT data FROM ${sql(table)} WHERE id = ${id}`;
  if (rows.length === 0) throw new RecordingNotFoundError(id);
  return rows[0].data;
}

export async function listRecordings({ db, table }: PostgresContext, filter: SummaryFilter = {}): Promise<SummaryPage> {
  const sql = await db();
  const f = filter;
  const key: SortKey = f.sort ?? "startedAt";
  const column = sql(SORT_COLUMNS[key] ?? "started_at");
  const desc = (f.order ?? "desc") === "desc";
  const conditions = [];
  if (f.view !== undefined) conditions.push(sql`view = ${f.view}`);
  if (f.sessionKey !== undefined) conditions.push(sql`session_key = ${f.sessionKey}`);
  if (f.urlContains) conditions.push(sql`strpos(url, ${f.urlContains}) > 0`);
  if (f.from !== undefined) conditions.push(sql`started_at >= ${new Date(f.from)}`);
  if (f.to !== undefined) conditions.push(sql`started_at < ${new Date(f.to)}`);
  if (f.minDurationMs !== undefined) conditions.push(sql`duration_ms >= ${f.minDurationMs}`);
  if (f.minEvents !== undefined) conditions.push(sql`event_count >= ${f.minEvents}`);
  if (f.eventName !== undefined) conditions.push(sql`event_names @> ${sql.array([f.eventName])}::text[]`);
  if (f.text) {
    conditions.push(
      sql`strpos(lower(view || E'\n' || url || E'\n' || array_to_string(event_names, E'\n')), ${f.text.toLowerCase()}) > 0`,
    );
  }
  const after = f.cursor ? parseCursor(f.cursor) : undefined;
  if (after) {
    const value = key === "startedAt" ? new Date(after.value) : after.value;
    conditions.push(desc ? sql`(${column}, id) < (${value}, ${after.id})` : sql`(${column}, id) > (${value}, ${after.id})`);
  }
  const where = conditions.length ? conditions.reduce((all, c) => sql`${all} AND ${c}`) : sql`TRUE`;
  const order = desc ? sql`ORDER BY ${column} DESC, id DESC` : sql`ORDER BY ${column} ASC, id ASC`;
  const limit = f.limit === undefined ? sql`` : sql`LIMIT ${Math.max(0, f.limit) + 1}`;
  const rows = await sql<SummaryRow[]>`
    SELECT ${sql.unsafe(SUMMARY_COLUMNS)} FROM ${sql(table)} WHERE ${where} ${order} ${limit}`;
  const items = rows.map(toSummary);
  if (f.limit === undefined || items.length <= f.limit) return { items };
  const page = items.slice(0, f.limit);
  const last = page[page.length - 1];
  return last ? { items: page, nextCursor: makeCursor(last[key], last.id) } : { items: page };
}

export async function deleteRecording({ db, table, names: n }: PostgresContext, id: string): Promise<boolean> {
  assertValidId(id);
  const sql = await db();
  // One statement: the recording, its segments and its claim go together.
  const [{ removed }] = await sql<{ removed: number }[]>`
    WITH recording AS (DELETE FROM ${sql(table)} WHERE id = ${id} RETURNING 1),
         segments AS (DELETE FROM ${sql(n.segmentsTable)} WHERE recording_id = ${id} RETURNING 1),
         claims AS (DELETE FROM ${sql(n.claimsTable)} WHERE recording_id = ${id})
    SELECT ((SELECT count(*) FROM recording) + (SELECT count(*) FROM segments))::int AS removed`;
  return removed > 0;
}

export async function clearRecordings({ db, table, names: n }: PostgresContext): Promise<void> {
  const sql = await db();
  await sql.begin(async (tx) => {
    await tx`DELETE FROM ${tx(table)}`;
    await tx`DELETE FROM ${tx(n.segmentsTable)}`;
    await tx`DELETE FROM ${tx(n.claimsTable)} WHERE recording_id <> ${SECRET_ROW}`;
  });
}

export async function cleanupRecordings({ db, table, names: n }: PostgresContext, policy: CleanupPolicy): Promise<string[]> {
  const sql = await db();
  const cutoff = new Date((policy.now ?? Date.now()) - policy.maxAgeMs);
  const keep = Math.max(0, Math.floor(policy.maxRecordings));
  // One cleanup at a time per table: the next one sees what this one deleted,
  // so instances running it at once delete each recording once, and only
  // what the policy names.
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${"hono-replay cleanup " + table}))`;
    const rows = await tx<{ id: string }[]>`
      DELETE FROM ${tx(table)} WHERE id IN (
        SELECT id FROM ${tx(table)} WHERE started_at < ${cutoff}
        UNION
        (SELECT id FROM ${tx(table)} ORDER BY started_at DESC, id DESC OFFSET ${keep})
      ) RETURNING id`;
    const ids = rows.map((r) => r.id);
    if (ids.length) {
      // What is left of an erased recording goes with it, as delete(id) does.
      await tx`DELETE FROM ${tx(n.segmentsTable)} WHERE recording_id = ANY(${tx.array(ids)}::text[])`;
      await tx`DELETE FROM ${tx(n.claimsTable)} WHERE recording_id = ANY(${tx.array(ids)}::text[])`;
    }
    return ids;
  });
}
