/**
 * Finalize claims of a PostgreSQL storage (postgres.ts), and the shared
 * secret that lives among them:
 *
 *   <table>_claims (recording_id) → owner, until
 *
 * Invariants, and why:
 * - A claim is taken in one INSERT … ON CONFLICT DO UPDATE … WHERE (the
 *   holder renews, or the lease has expired) RETURNING: PostgreSQL runs it as
 *   one atomic insert-or-update on the primary key, so of instances racing
 *   exactly one gets a row back.
 * - `until` is on the database's clock (now()), written and compared there,
 *   so instances whose clocks disagree still agree on who holds a lease.
 * - The shared secret is the row SECRET_ROW (no recording id contains "~"),
 *   held until 'infinity': the first instance's value wins, every later one
 *   reads it, and `clear()` keeps it.
 */

import { assertValidId, randomToken } from "../format/mod.ts";
import type { PostgresContext } from "./postgres_connection.ts";
import { SECRET_ROW } from "./postgres_schema.ts";

export async function claim({ db, names: n }: PostgresContext, recordingId: string, owner: string, ttlMs: number): Promise<boolean> {
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
}

export async function release({ db, names: n }: PostgresContext, recordingId: string, owner: string): Promise<void> {
  const sql = await db();
  await sql`DELETE FROM ${sql(n.claimsTable)} WHERE recording_id = ${recordingId} AND owner = ${owner}`;
}

export async function sharedSecret({ db, names: n }: PostgresContext): Promise<string> {
  const sql = await db();
  // A row of the claims table that is no recording (ids cannot contain "~"), held forever:
  // the first instance's value wins, every later one reads it.
  await sql`
    INSERT INTO ${sql(n.claimsTable)} (recording_id, owner, until)
    VALUES (${SECRET_ROW}, ${randomToken(43)}, 'infinity')
    ON CONFLICT (recording_id) DO NOTHING`;
  const [row] = await sql<{ owner: string }[]>`SELECT owner FROM ${sql(n.claimsTable)} WHERE recording_id = ${SECRET_ROW}`;
  return row.owner;
}
