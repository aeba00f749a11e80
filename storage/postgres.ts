/**
 * PostgreSQL storage, through the `postgres` package (porsager/postgres): one
 * row per recording in a table every instance of an app shares. Summaries are
 * columns, so listing reads no recording data; filters, sorting and cursor
 * paging run in SQL on indexes; cleanup takes a transaction-scoped advisory
 * lock, so instances that run it at once delete each recording once.
 *
 * Active recordings live in two more tables, named after the main one:
 *
 *   <table>_segments (recording_id, key) → last_at, text_utf8
 *     One row per segment an instance appended; appending an existing key
 *     replaces the row (an upsert), so a retried append is harmless. The text
 *     is stored as UTF-8 bytea, not text: PostgreSQL text cannot hold U+0000,
 *     and the contract is "any characters". Listing selects the key columns
 *     only, never the text.
 *   <table>_claims (recording_id) → owner, until
 *     The finalize lease. Taken in one INSERT … ON CONFLICT DO UPDATE … WHERE
 *     (the holder renews, or the lease has expired) RETURNING: PostgreSQL runs
 *     it as one atomic insert-or-update on the primary key, so of instances
 *     racing exactly one gets a row back. `until` is on the database's clock
 *     (now()), written and compared there, so instances whose clocks disagree
 *     still agree on who holds a lease.
 *
 *   <table>_erasures (id) → body, until
 *     Erasure marks (storage/types.ts `Erasure`), the mark as JSON; kept by
 *     `clear()`, removed once past `until` by the next `addErasure`.
 *
 * `delete(id)`, `clear()` and `cleanup()` remove a recording's segments and
 * claim with it, in the same statement or transaction.
 *
 *   const storage = postgresStorage({ url: process.env.DATABASE_URL });
 *   createReplay({ views, storage });
 *
 * The table is created on first use (`migrate: false` to leave that to your
 * own migrations; `postgresMigrationSql()` is the SQL). The options are plain
 * data, so the persistence worker opens its own connection from `spec`.
 */

import type { Sql } from "postgres";
import { assertValidId, type Format, randomToken, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { checkErasure, makeCursor, parseCursor, parseErasure } from "./filter.ts";
import type { CleanupPolicy, Erasure, RecordingStorage, Segment, SegmentInfo, SortKey, SummaryFilter, SummaryPage } from "./types.ts";

export interface PostgresStorageOptions {
  /** `postgres://user:password@host:port/database`. Default: the DATABASE_URL environment variable. */
  url?: string;
  /**
   * Connection options of the `postgres` package (host, port, user, password,
   * database, ssl, max, connect_timeout, …). Must be plain data: the worker
   * receives a copy. Merged over `url`.
   */
  connection?: Record<string, unknown>;
  /**
   * An open `sql` instance of the `postgres` package to share with the app.
   * It cannot be handed to a worker, so the drain loop then runs in the request
   * thread; `close()` leaves it open.
   */
  sql?: unknown;
  /**
   * Table name, optionally schema-qualified. Default "replay_recordings".
   * Segments and claims go to `<table>_segments` and `<table>_claims`.
   */
  table?: string;
  /** Create the tables and indexes if they are missing, on first use. Default true. */
  migrate?: boolean;
}

export interface PostgresStorage extends RecordingStorage {
  readonly table: string;
  /** Creates the tables and their indexes if they are missing. Safe to run from several instances at once. */
  migrate(): Promise<void>;
  /** Ends the connections (not an `sql` instance given in the options). */
  close(): Promise<void>;
}

const DEFAULT_TABLE = "replay_recordings";
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,50}(\.[A-Za-z_][A-Za-z0-9_]{0,50})?$/;

const SORT_COLUMNS: Record<SortKey, string> = {
  startedAt: "started_at",
  durationMs: "duration_ms",
  eventCount: "event_count",
  sizeBytes: "size_bytes",
};

const SUMMARY_COLUMNS =
  "id, view, url, session_key, started_at, duration_ms, event_count, event_names, truncated, dropped, recovered, format, size_bytes";

function checkTable(table: string): string {
  if (!TABLE_NAME.test(table)) {
    throw new TypeError(`postgresStorage: table must be a plain name like "replay_recordings" or "schema.table", not ${JSON.stringify(table)}`);
  }
  return table;
}

function quoted(table: string): string {
  return table.split(".").map((part) => `"${part}"`).join(".");
}

/** The indexes listing, filtering and sorting need: name suffix → definition. */
const INDEXES: [string, string][] = [
  ["started_at", "(started_at, id)"],
  ["view_started_at", "(view, started_at, id)"],
  ["session_key", "(session_key, started_at)"],
  ["duration_ms", "(duration_ms, id)"],
  ["event_count", "(event_count, id)"],
  ["size_bytes", "(size_bytes, id)"],
  ["event_names", "USING gin (event_names)"],
];

/**
 * Quoted names of the table, its indexes and its companion tables (all in the
 * table's schema); `segmentsTable` and `claimsTable` unquoted, for `sql(name)`.
 */
function names(table: string) {
  const parts = checkTable(table).split(".");
  const base = parts[parts.length - 1];
  const schema = parts.length > 1 ? `"${parts[0]}".` : "";
  const plainSchema = parts.length > 1 ? `${parts[0]}.` : "";
  return {
    table: quoted(table),
    index: (suffix: string) => `"${base}_${suffix}"`,
    qualifiedIndex: (suffix: string) => `${schema}"${base}_${suffix}"`,
    segments: `${schema}"${base}_segments"`,
    claims: `${schema}"${base}_claims"`,
    erasures: `${schema}"${base}_erasures"`,
    segmentsTable: `${plainSchema}${base}_segments`,
    claimsTable: `${plainSchema}${base}_claims`,
    erasuresTable: `${plainSchema}${base}_erasures`,
  };
}

/**
 * The migration: the table, its storage setting and the indexes listing needs,
 * and the segments and claims tables of active recordings. Idempotent (every
 * statement is IF NOT EXISTS or a no-op when repeated), so a database created
 * before segments existed gets the new tables by running it again;
 * `postgresStorage` runs it on first use unless `migrate: false`.
 */
export function postgresMigrationSql(table = DEFAULT_TABLE): string {
  const n = names(table);
  return `CREATE TABLE IF NOT EXISTS ${n.table} (
  id          text COLLATE "C" PRIMARY KEY,
  view        text NOT NULL,
  url         text NOT NULL,
  session_key text NOT NULL,
  started_at  timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  event_count integer NOT NULL,
  event_names text[] NOT NULL,
  truncated   boolean NOT NULL DEFAULT false,
  dropped     integer NOT NULL DEFAULT 0,
  recovered   boolean NOT NULL DEFAULT false,
  format      text NOT NULL,
  size_bytes  integer NOT NULL,
  data        bytea NOT NULL,
  inserted_at timestamptz NOT NULL DEFAULT now()
);
-- The data is already zlib-compressed: store it out of line without compressing it again.
ALTER TABLE ${n.table} ALTER COLUMN data SET STORAGE EXTERNAL;
${INDEXES.map(([suffix, definition]) => `CREATE INDEX IF NOT EXISTS ${n.index(suffix)} ON ${n.table} ${definition};`).join("\n")}
-- Segments of active recordings, appended by every instance that serves the session.
CREATE TABLE IF NOT EXISTS ${n.segments} (
  recording_id text COLLATE "C" NOT NULL,
  key          text COLLATE "C" NOT NULL,
  last_at      double precision NOT NULL,
  text_utf8    bytea NOT NULL,
  PRIMARY KEY (recording_id, key)
);
-- Who finalizes a recording, until when (database clock).
CREATE TABLE IF NOT EXISTS ${n.claims} (
  recording_id text COLLATE "C" PRIMARY KEY,
  owner        text NOT NULL,
  until        timestamptz NOT NULL
);
-- Erasure marks: what was erased must not come back (a late segment, a recovered journal), until "until".
CREATE TABLE IF NOT EXISTS ${n.erasures} (
  id    text COLLATE "C" PRIMARY KEY,
  body  text NOT NULL,
  until timestamptz NOT NULL
);
`;
}

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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Segment keys are `<instance id>-<counter>`; anything longer is a caller's bug, not data. */
const MAX_SEGMENT_KEY = 200;

/** Throws for a segment no backend should store: a hostile recording id, a key that is not a short string, a lastAt that is not a number. */
function checkSegment(segment: Segment): void {
  assertValidId(segment.recordingId);
  if (typeof segment.key !== "string" || segment.key.length === 0 || segment.key.length > MAX_SEGMENT_KEY) {
    throw new TypeError(`postgresStorage: a segment key must be a string of 1 to ${MAX_SEGMENT_KEY} characters, like "<instance id>-<counter>"; got ${JSON.stringify(segment.key)?.slice(0, 80)}`);
  }
  if (!Number.isFinite(segment.lastAt)) throw new TypeError(`postgresStorage: segment ${segment.key}: lastAt must be epoch milliseconds, got ${segment.lastAt}`);
  if (typeof segment.text !== "string") throw new TypeError(`postgresStorage: segment ${segment.key}: text must be a string`);
}

function envDatabaseUrl(): string | undefined {
  // deno-lint-ignore no-explicit-any
  return (globalThis as any).process?.env?.DATABASE_URL;
}

/** The claims-table row that holds the store's shared secret (storage/types.ts sharedSecret). */
const SECRET_ROW = "~secret";

export function postgresStorage(options: PostgresStorageOptions = {}): PostgresStorage {
  const table = checkTable(options.table ?? DEFAULT_TABLE);
  const url = options.url ?? (options.sql || options.connection ? undefined : envDatabaseUrl());
  const shared = options.sql as Sql | undefined;
  const n = names(table);
  let opened: Promise<Sql> | undefined;
  let migrated: Promise<void> | undefined;
  let closed = false;

  function connect(): Promise<Sql> {
    if (closed) return Promise.reject(new Error("postgresStorage: used after close()"));
    if (shared) return Promise.resolve(shared);
    opened ??= import("postgres").then(({ default: postgres }) => {
      const settings = {
        max: 4,
        idle_timeout: 30,
        connect_timeout: 10,
        onnotice: () => {},
        ...options.connection,
      };
      return url ? postgres(url, settings) : postgres(settings);
    });
    return opened;
  }

  async function migrate(): Promise<void> {
    const sql = await connect();
    // The DDL locks the table even when there is nothing to do: skip it when
    // everything is there, so a starting instance does not stall the others.
    const n = names(table);
    const relations = [n.table, ...INDEXES.map(([suffix]) => n.qualifiedIndex(suffix)), n.segments, n.claims, n.erasures];
    const checks = relations.map((name) => sql`to_regclass(${name}) IS NOT NULL`).reduce((all, c) => sql`${all} AND ${c}`);
    const [{ present }] = await sql<{ present: boolean }[]>`SELECT ${checks} AS present`;
    if (present) return;
    await sql.begin(async (tx) => {
      // CREATE … IF NOT EXISTS still races with itself: one instance at a time.
      await tx`SELECT pg_advisory_xact_lock(hashtext(${"hono-replay migrate " + table}))`;
      await tx.unsafe(postgresMigrationSql(table));
    });
  }

  /** The connection, once the table exists. A failed migration (database down) is tried again next time. */
  async function db(): Promise<Sql> {
    const sql = await connect();
    if (options.migrate !== false) {
      migrated ??= migrate().catch((error) => {
        migrated = undefined;
        throw error;
      });
      await migrated;
    }
    return sql;
  }

  return {
    name: "postgres",
    table,
    spec: shared ? undefined : {
      module: import.meta.url,
      export: "postgresStorage",
      options: { url, connection: options.connection, table, migrate: options.migrate } satisfies PostgresStorageOptions,
    },
    migrate,

    async save(summary, bytes) {
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
    },

    async load(id) {
      assertValidId(id);
      const sql = await db();
      const rows = await sql<{ data: Uint8Array }[]>`SELECT data FROM ${sql(table)} WHERE id = ${id}`;
      if (rows.length === 0) throw new RecordingNotFoundError(id);
      return rows[0].data;
    },

    async list(filter: SummaryFilter = {}): Promise<SummaryPage> {
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
    },

    async delete(id) {
      assertValidId(id);
      const sql = await db();
      // One statement: the recording, its segments and its claim go together.
      const [{ removed }] = await sql<{ removed: number }[]>`
        WITH recording AS (DELETE FROM ${sql(table)} WHERE id = ${id} RETURNING 1),
             segments AS (DELETE FROM ${sql(n.segmentsTable)} WHERE recording_id = ${id} RETURNING 1),
             claims AS (DELETE FROM ${sql(n.claimsTable)} WHERE recording_id = ${id})
        SELECT ((SELECT count(*) FROM recording) + (SELECT count(*) FROM segments))::int AS removed`;
      return removed > 0;
    },

    async clear() {
      const sql = await db();
      await sql.begin(async (tx) => {
        await tx`DELETE FROM ${tx(table)}`;
        await tx`DELETE FROM ${tx(n.segmentsTable)}`;
        await tx`DELETE FROM ${tx(n.claimsTable)} WHERE recording_id <> ${SECRET_ROW}`;
      });
    },

    async cleanup(policy: CleanupPolicy) {
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
    },

    async appendSegment(segment) {
      checkSegment(segment);
      const sql = await db();
      await sql`
        INSERT INTO ${sql(n.segmentsTable)} (recording_id, key, last_at, text_utf8)
        VALUES (${segment.recordingId}, ${segment.key}, ${segment.lastAt}, ${encoder.encode(segment.text)})
        ON CONFLICT (recording_id, key) DO UPDATE SET last_at = excluded.last_at, text_utf8 = excluded.text_utf8`;
    },

    async loadSegments(recordingId) {
      const sql = await db();
      const rows = await sql<{ key: string; last_at: number; text_utf8: Uint8Array }[]>`
        SELECT key, last_at, text_utf8 FROM ${sql(n.segmentsTable)} WHERE recording_id = ${recordingId}`;
      return rows.map((r): Segment => ({ recordingId, key: r.key, lastAt: r.last_at, text: decoder.decode(r.text_utf8) }));
    },

    async listSegments() {
      const sql = await db();
      const rows = await sql<{ recording_id: string; key: string; last_at: number }[]>`
        SELECT recording_id, key, last_at FROM ${sql(n.segmentsTable)}`;
      return rows.map((r): SegmentInfo => ({ recordingId: r.recording_id, key: r.key, lastAt: r.last_at }));
    },

    async deleteSegments(recordingId, keys) {
      if (keys.length === 0) return;
      const sql = await db();
      await sql`
        DELETE FROM ${sql(n.segmentsTable)} WHERE recording_id = ${recordingId} AND key = ANY(${sql.array(keys)}::text[])`;
    },

    async claim(recordingId, owner, ttlMs) {
      assertValidId(recordingId);
      const sql = await db();
      // One atomic statement. The first claim inserts; a later one updates the
      // row only when it renews its own lease or the lease has expired. Two
      // racing inserts serialize on the primary key: the second sees the
      // first's row and its WHERE fails, so it gets no row back.
      const rows = await sql`
        INSERT INTO ${sql(n.claimsTable)} AS held (recording_id, owner, until)
        VALUES (${recordingId}, ${owner}, now() + ${Math.max(0, ttlMs)}::float8 * interval '1 millisecond')
        ON CONFLICT (recording_id) DO UPDATE SET owner = excluded.owner, until = excluded.until
        WHERE held.owner = excluded.owner OR held.until <= now()
        RETURNING 1`;
      return rows.length > 0;
    },

    async sharedSecret() {
      const sql = await db();
      // A row of the claims table that is no recording (ids cannot contain "~"), held forever:
      // the first instance's value wins, every later one reads it.
      await sql`
        INSERT INTO ${sql(n.claimsTable)} (recording_id, owner, until)
        VALUES (${SECRET_ROW}, ${randomToken(43)}, 'infinity')
        ON CONFLICT (recording_id) DO NOTHING`;
      const [row] = await sql<{ owner: string }[]>`SELECT owner FROM ${sql(n.claimsTable)} WHERE recording_id = ${SECRET_ROW}`;
      return row.owner;
    },

    async release(recordingId, owner) {
      const sql = await db();
      await sql`DELETE FROM ${sql(n.claimsTable)} WHERE recording_id = ${recordingId} AND owner = ${owner}`;
    },

    async addErasure(erasure) {
      const body = JSON.stringify(checkErasure(erasure));
      const sql = await db();
      await sql`
        INSERT INTO ${sql(n.erasuresTable)} (id, body, until) VALUES (${erasure.id}, ${body}, ${new Date(erasure.until)})
        ON CONFLICT (id) DO NOTHING`;
      await sql`DELETE FROM ${sql(n.erasuresTable)} WHERE until <= now()`;
    },

    async listErasures() {
      const sql = await db();
      const rows = await sql<{ body: string }[]>`SELECT body FROM ${sql(n.erasuresTable)} WHERE until > now()`;
      return rows.flatMap((row): Erasure[] => {
        const mark = parseErasure(row.body);
        return mark ? [mark] : [];
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      const sql = await opened?.catch(() => undefined);
      // The timeout matters on Deno, where end() can wait forever on a connection the server cut.
      await sql?.end({ timeout: 5 });
    },
  };
}
