/**
 * Erasure marks (storage/types.ts `Erasure`) of a PostgreSQL storage
 * (postgres.ts):
 *
 *   <table>_erasures (id) → body, until
 *
 * Invariants, and why:
 * - A mark is stored as its JSON body, inserted once (ON CONFLICT DO
 *   NOTHING): adding an id again changes nothing.
 * - `clear()` does not touch the table: a mark must outlive the data it
 *   erased. Marks past `until` are removed by the next `addErasure`, and never
 *   listed.
 * - A row whose body is not a mark (written by something else) is skipped,
 *   and reported once per handle: every instance lists the marks about once a
 *   second (worker/erasure.ts), and a warning a second is noise.
 */

import { checkErasure, parseErasure } from "./filter.ts";
import type { PostgresContext } from "./postgres_connection.ts";
import type { Erasure, ErasureStore } from "./types.ts";

export function postgresErasures(ctx: PostgresContext): ErasureStore {
  const { db, names: n } = ctx;
  /** Ids of rows reported as not a mark: each is reported once. */
  const reported = new Set<string>();
  return {
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
      const rows = await sql<{ id: string; body: string }[]>`SELECT id, body FROM ${sql(n.erasuresTable)} WHERE until > now()`;
      return rows.flatMap((row): Erasure[] => {
        const mark = parseErasure(row.body);
        if (mark) return [mark];
        if (!reported.has(row.id)) {
          reported.add(row.id);
          ctx.logger.warn(`row ${JSON.stringify(row.id)} of ${n.erasures} is not an erasure mark; it is ignored: delete it`);
        }
        return [];
      });
    },
  };
}
