/**
 * The tables of a PostgreSQL storage (postgres.ts), their names and the
 * migration that creates them.
 *
 * Invariants, and why:
 * - A table name is checked against a plain-name pattern before it goes
 *   anywhere near SQL, and quoted when it is spliced into DDL: the migration
 *   is text, so a name is the one thing that could inject into it.
 * - The companion tables (`<table>_segments`, `<table>_claims`,
 *   `<table>_erasures`) and every index live in the table's schema and are
 *   named after it, so two apps with two tables never share one.
 * - The migration is idempotent (every statement is IF NOT EXISTS or a no-op
 *   when repeated), so a database created before a companion table existed
 *   gets it by running it again.
 */

export const DEFAULT_TABLE = "replay_recordings";
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,50}(\.[A-Za-z_][A-Za-z0-9_]{0,50})?$/;

/** The claims-table row that holds the store's shared secret (storage/types.ts sharedSecret); ids cannot contain "~". */
export const SECRET_ROW = "~secret";

export function checkTable(table: string): string {
  if (!TABLE_NAME.test(table)) {
    throw new TypeError(`postgresStorage: table must be a plain name like "replay_recordings" or "schema.table", not ${JSON.stringify(table)}`);
  }
  return table;
}

function quoted(table: string): string {
  return table.split(".").map((part) => `"${part}"`).join(".");
}

/** The indexes listing, filtering and sorting need: name suffix → definition. */
export const INDEXES: [string, string][] = [
  ["started_at", "(started_at, id)"],
  ["view_started_at", "(view, started_at, id)"],
  ["session_key", "(session_key, started_at)"],
  ["duration_ms", "(duration_ms, id)"],
  ["event_count", "(event_count, id)"],
  ["size_bytes", "(size_bytes, id)"],
  ["event_names", "USING gin (event_names)"],
];

export type TableNames = ReturnType<typeof names>;

/**
 * Quoted names of the table, its indexes and its companion tables (all in the
 * table's schema); `segmentsTable` and `claimsTable` unquoted, for `sql(name)`.
 */
export function names(table: string) {
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
