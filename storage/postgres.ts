/**
 * PostgreSQL storage, through the `postgres` package (porsager/postgres): one
 * row per recording in a table every instance of an app shares. Summaries are
 * columns, so listing reads no recording data; filters, sorting and cursor
 * paging run in SQL on indexes; cleanup takes a transaction-scoped advisory
 * lock, so instances that run it at once delete each recording once
 * (postgres_recordings.ts).
 *
 * Active recordings live in two more tables, named after the main one:
 *
 *   <table>_segments (recording_id, key) → last_at, text_utf8     postgres_segments.ts
 *     One row per segment; an append is an upsert, the text UTF-8 bytea.
 *   <table>_claims (recording_id) → owner, until                  postgres_claims.ts
 *     The finalize lease, taken in one atomic statement, on the database's clock.
 *   <table>_erasures (id) → body, until                           postgres_erasures.ts
 *     Erasure marks (storage/types.ts `Erasure`); kept by `clear()`.
 *
 * The names and the migration are postgres_schema.ts's; the connection (and
 * the migration on first use) postgres_connection.ts's. Each module's header
 * states its invariants.
 *
 * `delete(id)`, `clear()` and `cleanup()` remove a recording's segments and
 * claim with it, in the same statement or transaction.
 *
 *   const storage = postgresStorage({ url: process.env.DATABASE_URL });
 *   createReplay({ views, storage });
 *
 * The table is created on first use (`migrate: false` to leave that to your
 * own migrations; `postgresMigrationSql()` is the SQL). The options are plain
 * data (but `sql` and `logger`), so the persistence worker opens its own
 * connection from `spec`.
 */

import type { Sql } from "postgres";
import { consoleLogger, type Logger } from "../logger.ts";
import { claim, release, sharedSecret } from "./postgres_claims.ts";
import { type PostgresContext, PostgresConnection } from "./postgres_connection.ts";
import { postgresErasures } from "./postgres_erasures.ts";
import { cleanupRecordings, clearRecordings, deleteRecording, listRecordings, loadRecording, saveRecording } from "./postgres_recordings.ts";
import { checkTable, DEFAULT_TABLE, names } from "./postgres_schema.ts";
import { appendSegment, deleteSegments, listSegments, loadSegments } from "./postgres_segments.ts";
import type { RecordingStorage } from "./types.ts";

export { postgresMigrationSql } from "./postgres_schema.ts";

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
  /**
   * Where the storage reports what it handled without failing (a stored
   * erasure mark it cannot read). Default `consoleLogger`. Not passed to the
   * persistence worker, whose own handle logs to the console.
   */
  logger?: Logger;
}

export interface PostgresStorage extends RecordingStorage {
  readonly table: string;
  /** Creates the tables and their indexes if they are missing. Safe to run from several instances at once. */
  migrate(): Promise<void>;
  /** Ends the connections (not an `sql` instance given in the options). */
  close(): Promise<void>;
}

function envDatabaseUrl(): string | undefined {
  // deno-lint-ignore no-explicit-any
  return (globalThis as any).process?.env?.DATABASE_URL;
}

export function postgresStorage(options: PostgresStorageOptions = {}): PostgresStorage {
  const table = checkTable(options.table ?? DEFAULT_TABLE);
  const url = options.url ?? (options.sql || options.connection ? undefined : envDatabaseUrl());
  const shared = options.sql as Sql | undefined;
  const connection = new PostgresConnection({ url, connection: options.connection, shared, table, migrate: options.migrate !== false });
  const ctx: PostgresContext = { table, names: names(table), logger: options.logger ?? consoleLogger, db: () => connection.db() };
  return {
    name: "postgres",
    table,
    spec: shared ? undefined : {
      module: import.meta.url,
      export: "postgresStorage",
      options: { url, connection: options.connection, table, migrate: options.migrate } satisfies PostgresStorageOptions,
    },
    migrate: () => connection.migrate(),
    save: (summary, bytes) => saveRecording(ctx, summary, bytes),
    load: (id) => loadRecording(ctx, id),
    list: (filter) => listRecordings(ctx, filter),
    delete: (id) => deleteRecording(ctx, id),
    clear: () => clearRecordings(ctx),
    cleanup: (policy) => cleanupRecordings(ctx, policy),
    appendSegment: (segment) => appendSegment(ctx, segment),
    loadSegments: (recordingId) => loadSegments(ctx, recordingId),
    listSegments: () => listSegments(ctx),
    deleteSegments: (recordingId, keys) => deleteSegments(ctx, recordingId, keys),
    claim: (recordingId, owner, ttlMs) => claim(ctx, recordingId, owner, ttlMs),
    sharedSecret: () => sharedSecret(ctx),
    release: (recordingId, owner) => release(ctx, recordingId, owner),
    ...postgresErasures(ctx),
    close: () => connection.close(),
  };
}
