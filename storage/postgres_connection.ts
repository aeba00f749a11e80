/**
 * The connection of a PostgreSQL storage (postgres.ts), and the migration it
 * runs on first use.
 *
 * Invariants, and why:
 * - The `postgres` package is imported on first use, not at load: it is an
 *   optional peer dependency, and an app on another backend never loads it.
 * - An `sql` instance given in the options is used as is and never ended:
 *   it is the app's.
 * - The migration runs once per handle, on first use; one that fails (the
 *   database is down) is tried again by the next use. It is skipped when
 *   every table and index is there, because its DDL locks the table even when
 *   there is nothing to do; otherwise it runs under an advisory lock, because
 *   CREATE … IF NOT EXISTS still races with itself.
 */

import type { Sql } from "postgres";
import type { Logger } from "../logger.ts";
import { INDEXES, names, postgresMigrationSql, type TableNames } from "./postgres_schema.ts";

/** What every part of one PostgreSQL storage works with. */
export interface PostgresContext {
  /** The checked, unquoted table name (`schema.table` or `table`). */
  readonly table: string;
  readonly names: TableNames;
  readonly logger: Logger;
  /** The connection, once the tables exist. */
  db(): Promise<Sql>;
}

export interface ConnectionOptions {
  url: string | undefined;
  /** Connection options of the `postgres` package, merged over the defaults below. */
  connection: Record<string, unknown> | undefined;
  /** The app's own `sql` instance, if it gave one. */
  shared: Sql | undefined;
  table: string;
  migrate: boolean;
}

export class PostgresConnection {
  private opened: Promise<Sql> | undefined;
  private migrated: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: ConnectionOptions) {}

  /** The connection, once the table exists. A failed migration (database down) is tried again next time. */
  async db(): Promise<Sql> {
    const sql = await this.connect();
    if (this.options.migrate) {
      this.migrated ??= this.migrate().catch((error) => {
        this.migrated = undefined;
        throw error;
      });
      await this.migrated;
    }
    return sql;
  }

  /** Creates the tables and their indexes if they are missing. */
  async migrate(): Promise<void> {
    const sql = await this.connect();
    const { table } = this.options;
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

  /** Ends the connections this handle opened (not a shared `sql`); later use fails. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A connection that never opened has nothing to end.
    const sql = await this.opened?.catch(() => undefined);
    // The timeout matters on Deno, where end() can wait forever on a connection the server cut.
    await sql?.end({ timeout: 5 });
  }

  private connect(): Promise<Sql> {
    if (this.closed) return Promise.reject(new Error("postgresStorage: used after close()"));
    const { url, shared, connection } = this.options;
    if (shared) return Promise.resolve(shared);
    this.opened ??= import("postgres").then(({ default: postgres }) => {
      const settings = {
        max: 4,
        idle_timeout: 30,
        connect_timeout: 10,
        onnotice: () => {},
        ...connection,
      };
      return url ? postgres(url, settings) : postgres(settings);
    });
    return this.opened;
  }
}
