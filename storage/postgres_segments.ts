/**
 * Segments of active recordings in a PostgreSQL storage (postgres.ts):
 *
 *   <table>_segments (recording_id, key) → last_at, text_utf8
 *
 * Invariants, and why:
 * - One row per segment an instance appended; appending an existing key
 *   replaces the row (an upsert), so a retried append is harmless.
 * - The text is stored as UTF-8 bytea, not text: PostgreSQL text cannot hold
 *   U+0000, and the contract is "any characters".
 * - Listing selects the key columns only, never the text.
 */

import { assertValidId } from "../format/mod.ts";
import type { PostgresContext } from "./postgres_connection.ts";
import type { Segment, SegmentInfo } from "./types.ts";

/** Segment keys are `<instance id>-<counter>`; anything longer is a caller's bug, not data. */
const MAX_SEGMENT_KEY = 200;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Throws for a segment no backend should store: a hostile recording id, a key that is not a short string, a lastAt that is not a number. */
function checkSegment(segment: Segment): void {
  assertValidId(segment.recordingId);
  if (typeof segment.key !== "string" || segment.key.length === 0 || segment.key.length > MAX_SEGMENT_KEY) {
    throw new TypeError(`postgresStorage: a segment key must be a string of 1 to ${MAX_SEGMENT_KEY} characters, like "<instance id>-<counter>"; got ${JSON.stringify(segment.key)?.slice(0, 80)}`);
  }
  if (!Number.isFinite(segment.lastAt)) throw new TypeError(`postgresStorage: segment ${segment.key}: lastAt must be epoch milliseconds, got ${segment.lastAt}`);
  if (typeof segment.text !== "string") throw new TypeError(`postgresStorage: segment ${segment.key}: text must be a string`);
}

export async function appendSegment({ db, names: n }: PostgresContext, segment: Segment): Promise<void> {
  checkSegment(segment);
  const sql = await db();
  await sql`
    INSERT INTO ${sql(n.segmentsTable)} (recording_id, key, last_at, text_utf8)
    VALUES (${segment.recordingId}, ${segment.key}, ${segment.lastAt}, ${encoder.encode(segment.text)})
    ON CONFLICT (recording_id, key) DO UPDATE SET last_at = excluded.last_at, text_utf8 = excluded.text_utf8`;
}

export async function loadSegments({ db, names: n }: PostgresContext, recordingId: string): Promise<Segment[]> {
  const sql = await db();
  const rows = await sql<{ key: string; last_at: number; text_utf8: Uint8Array }[]>`
    SELECT key, last_at, text_utf8 FROM ${sql(n.segmentsTable)} WHERE recording_id = ${recordingId}`;
  return rows.map((r): Segment => ({ recordingId, key: r.key, lastAt: r.last_at, text: decoder.decode(r.text_utf8) }));
}

export async function listSegments({ db, names: n }: PostgresContext): Promise<SegmentInfo[]> {
  const sql = await db();
  const rows = await sql<{ recording_id: string; key: string; last_at: number }[]>`
    SELECT recording_id, key, last_at FROM ${sql(n.segmentsTable)}`;
  return rows.map((r): SegmentInfo => ({ recordingId: r.recording_id, key: r.key, lastAt: r.last_at }));
}

export async function deleteSegments({ db, names: n }: PostgresContext, recordingId: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const sql = await db();
  await sql`
    DELETE FROM ${sql(n.segmentsTable)} WHERE recording_id = ${recordingId} AND key = ANY(${sql.array(keys)}::text[])`;
}
