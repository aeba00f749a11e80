/**
 * Segments of active recordings in Deno KV (storage/types.ts SegmentStore):
 * a header per segment, naming the generation and count of its text's chunks.
 *
 * Invariants:
 * - An append writes the text under a fresh generation and the header that
 *   points at it last (in the same atomic operation when the text fits), so
 *   readers see the old text or the new, never a mix; once the header is in,
 *   a later failure (removing the old text) must not touch the new chunks.
 * - A header is deleted with a check on the versionstamp it was read with, in
 *   the same operation as its chunks, so a header re-appended meanwhile is read
 *   again rather than left without text.
 * - Listing segments reads the header keys only.
 */

import { assertValidId, CorruptRecordingError, randomToken } from "../../format/mod.ts";
import type { RecordingStorage, Segment, SegmentInfo } from "../types.ts";
import { concat, decodeSegmentHead, decoder, encodeJson, encoder, type SegmentHead } from "./codec.ts";
import { CHECKS_PER_COMMIT, CHUNK_BYTES, CHUNKS_PER_COMMIT, DELETES_PER_COMMIT, type KvAtomic, type KvContext, type KvDb, type KvEntry, type KvKey, RACE_RETRIES } from "./kv.ts";

type SegmentMethods = Pick<RecordingStorage, "appendSegment" | "loadSegments" | "listSegments" | "deleteSegments">;

export function segmentMethods(ctx: KvContext): SegmentMethods {
  return {
    async appendSegment(segment) {
      checkSegment(segment);
      await append(await ctx.db(), segment);
    },
    async loadSegments(recordingId) {
      return loadSegments(await ctx.db(), recordingId);
    },
    async listSegments() {
      const db = await ctx.db();
      const at = db.keys.prefix.length + 1;
      return (await db.listAll(db.keys.segmentHeads, 500)).map((entry): SegmentInfo => ({
        recordingId: String(entry.key[at]),
        key: String(entry.key[at + 1]),
        // A header that cannot be read lists as long idle, so finalization gets to it and its load reports the damage.
        lastAt: decodeSegmentHead(entry.value)?.lastAt ?? 0,
      }));
    },
    async deleteSegments(recordingId, keys) {
      if (keys.length === 0) return;
      await removeSegments(await ctx.db(), recordingId, new Set(keys));
    },
  };
}

/** Everything of a recording that is not its summary and chunks: segment headers, all segment text (orphans too), the claim. True when it had segments. */
export async function eraseActive(db: KvDb, id: string): Promise<boolean> {
  const hadSegments = (await removeSegments(db, id)) > 0;
  await db.deleteKeys([...(await db.listAll(db.keys.segmentTextOf(id), 100)).map((entry) => entry.key), db.keys.claim(id)]);
  return hadSegments;
}

/** Segment keys are `<instance id>-<counter>`; a KV key is at most 2 KiB, and anything this long is a caller's bug. */
const MAX_SEGMENT_KEY = 200;

function checkSegment(segment: Segment): void {
  assertValidId(segment.recordingId);
  if (typeof segment.key !== "string" || segment.key.length === 0 || segment.key.length > MAX_SEGMENT_KEY) {
    throw new TypeError(`denoKvStorage: a segment key must be a string of 1 to ${MAX_SEGMENT_KEY} characters, like "<instance id>-<counter>"; got ${JSON.stringify(segment.key)?.slice(0, 80)}`);
  }
  if (!Number.isFinite(segment.lastAt)) throw new TypeError(`denoKvStorage: segment ${segment.key}: lastAt must be epoch milliseconds, got ${segment.lastAt}`);
  if (typeof segment.text !== "string") throw new TypeError(`denoKvStorage: segment ${segment.key}: text must be a string`);
}

async function append(db: KvDb, segment: Segment): Promise<void> {
  const { recordingId: id, key } = segment;
  const bytes = encoder.encode(segment.text);
  const head: SegmentHead = { lastAt: segment.lastAt, gen: randomToken(10), chunks: Math.ceil(bytes.length / CHUNK_BYTES), bytes: bytes.length };
  const textKeys = db.keys.segmentChunks(id, key, head);
  const chunk = (i: number) => bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
  // Text that does not fit in the header's operation goes first, under the new generation nobody reads yet.
  const early = head.chunks > CHUNKS_PER_COMMIT;
  let committed = false;
  try {
    if (early) await db.setInBatches(textKeys, chunk, `writing segment ${key} of recording ${id}`);
    const old = await commitHead(db, id, key, head, (op) => {
      if (!early) textKeys.forEach((textKey, j) => op.set(textKey, chunk(j)));
    });
    committed = true;
    if (old && old.gen !== head.gen) await db.deleteKeys(db.keys.segmentChunks(id, key, old));
  } catch (error) {
    if (!early || committed) throw error;
    try {
      await db.deleteKeys(textKeys);
    } catch (cleanupError) {
      throw new Error(
        `denoKvStorage: appending segment ${key} of recording ${id} failed (${(error as Error)?.message ?? error}), and its partly written text could not be removed (${(cleanupError as Error)?.message ?? cleanupError}); nobody reads it, and deleting the recording removes it`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Commits the segment's header (with whatever `withHeader` adds to the operation) over the one there; returns the header it replaced. */
async function commitHead(db: KvDb, id: string, key: string, head: SegmentHead, withHeader: (op: KvAtomic) => void): Promise<SegmentHead | undefined> {
  const headerKey = db.keys.segment(id, key);
  // Keys are new but for a retried append: expect no header, read one only when there is.
  let previous: { key: KvKey; versionstamp: string | null; value?: unknown } = { key: headerKey, versionstamp: null };
  for (let attempt = 0; ; attempt++) {
    const result = await db.commitOp((op) => {
      op.check(previous).set(headerKey, encodeJson(head));
      withHeader(op);
      return op;
    });
    if (result.ok) return decodeSegmentHead(previous.value);
    if (attempt >= RACE_RETRIES) throw new Error(`denoKvStorage: segment ${key} of recording ${id} kept changing while it was appended`);
    previous = await db.get(headerKey);
  }
}

/**
 * Deletes segments of a recording (all of them when `keys` is undefined):
 * each header with a check on the versionstamp it was read with, in the same
 * operation as its chunks, so a header re-appended meanwhile is read again
 * rather than left without text. Returns how many headers this call deleted.
 */
async function removeSegments(db: KvDb, id: string, keys?: Set<string>): Promise<number> {
  let pending = (await db.listAll(db.keys.segmentHeadsOf(id), 500)).filter((entry) => !keys || keys.has(keyOf(entry)));
  let removed = 0;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > RACE_RETRIES) throw new Error(`denoKvStorage: segments of recording ${id} kept changing while they were deleted`);
    const changed: KvEntry<Uint8Array>[] = [];
    for (const batch of deleteBatches(pending)) {
      const result = await db.commitOp((op) => {
        for (const entry of batch) {
          op.check(entry).delete(entry.key);
          // A header nobody can read names no chunks: they stay until the recording is erased.
          const head = decodeSegmentHead(entry.value);
          if (head) for (const chunkKey of db.keys.segmentChunks(id, keyOf(entry), head)) op.delete(chunkKey);
        }
        return op;
      });
      if (result.ok) removed += batch.length;
      else changed.push(...batch);
    }
    pending = (await Promise.all(changed.map((entry) => db.get(entry.key)))).filter((entry) => entry.value !== null);
  }
  return removed;
}

const keyOf = (entry: KvEntry<Uint8Array>) => String(entry.key[entry.key.length - 1]);

/** Header entries in batches of up to CHECKS_PER_COMMIT headers and DELETES_PER_COMMIT deletes (more only when one segment alone has more chunks). */
function* deleteBatches(pending: KvEntry<Uint8Array>[]): Generator<KvEntry<Uint8Array>[]> {
  const deletesOf = (entry: KvEntry<Uint8Array>) => 1 + (decodeSegmentHead(entry.value)?.chunks ?? 0);
  for (let i = 0; i < pending.length;) {
    const batch = [pending[i]];
    let deletes = deletesOf(pending[i]);
    for (let j = i + 1; j < pending.length && batch.length < CHECKS_PER_COMMIT && deletes + deletesOf(pending[j]) <= DELETES_PER_COMMIT; j++) {
      batch.push(pending[j]);
      deletes += deletesOf(pending[j]);
    }
    i += batch.length;
    yield batch;
  }
}

async function loadSegments(db: KvDb, recordingId: string): Promise<Segment[]> {
  let damage = { key: "", problem: "" };
  // An append or delete between the two range reads can make a segment look incomplete: read again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await readSegments(db, recordingId);
    if (Array.isArray(result)) return result;
    damage = result;
  }
  throw new CorruptRecordingError(
    recordingId,
    `segment ${damage.key}: ${damage.problem}; deleteSegments(${JSON.stringify(recordingId)}, [${JSON.stringify(damage.key)}]) removes that segment`,
  );
}

/** The recording's segments, or the first segment whose text is missing or damaged (which a concurrent write can cause: the caller reads again). */
async function readSegments(db: KvDb, id: string): Promise<Segment[] | { key: string; problem: string }> {
  const heads = await db.listAll(db.keys.segmentHeadsOf(id), 500);
  const parts = await segmentChunks(db, id);
  const out: Segment[] = [];
  for (const entry of heads) {
    const key = keyOf(entry);
    const head = decodeSegmentHead(entry.value);
    if (!head) return { key, problem: "its header is unreadable" };
    const found = parts.get(JSON.stringify([key, head.gen])) ?? new Map();
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < head.chunks; i++) {
      const chunk = found.get(i);
      if (!(chunk instanceof Uint8Array)) return { key, problem: `chunk ${i} of ${head.chunks} is missing or damaged` };
      chunks.push(chunk);
    }
    const total = chunks.reduce((n, c) => n + c.length, 0);
    if (found.size !== head.chunks || total !== head.bytes) {
      return { key, problem: `${found.size} chunks for ${head.chunks}, ${total} of ${head.bytes} bytes` };
    }
    out.push({ recordingId: id, key, lastAt: head.lastAt, text: decoder.decode(concat(chunks, total)) });
  }
  return out;
}

/** Every chunk of the recording's segments in one range read, by segment key and generation (`JSON.stringify([key, gen])`), then by index. */
async function segmentChunks(db: KvDb, id: string): Promise<Map<string, Map<unknown, unknown>>> {
  const parts = new Map<string, Map<unknown, unknown>>();
  for (const entry of await db.listAll(db.keys.segmentTextOf(id), 20)) {
    const [key, gen, index] = entry.key.slice(-3);
    const name = JSON.stringify([key, gen]);
    let chunks = parts.get(name);
    if (!chunks) parts.set(name, (chunks = new Map()));
    chunks.set(index, entry.value);
  }
  return parts;
}
