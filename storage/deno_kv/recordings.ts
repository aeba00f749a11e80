/**
 * Finalized recordings in Deno KV: a summary key per recording, pointing at
 * the chunks of its bytes (KV values are limited to 64 KiB).
 *
 * Invariants:
 * - A save writes its chunks under a fresh generation and then, in one atomic
 *   operation checked against the previous summary, the summary that points at
 *   them; a recording that fits in one operation (up to 540 KB) is written
 *   entirely in that one. Readers follow the summary, so they see the old
 *   recording or the new one, never a mix. Once the summary is in, nothing
 *   the save does after (removing the replaced chunks) touches its chunks.
 * - Listing reads the summary keys only.
 * - Removals are checked against the summary as read: when several instances
 *   delete or clean up at once, exactly one of them removes each recording.
 */

import { assertValidId, CorruptRecordingError, randomToken, RecordingNotFoundError, type RecordingSummary } from "../../format/mod.ts";
import { idsToClean, pageSummaries } from "../filter.ts";
import type { CleanupPolicy, RecordingStorage, SummaryFilter, SummaryPage } from "../types.ts";
import { concat, decodeHead, encodeJson, type Head, toSummary } from "./codec.ts";
import { CHUNK_BYTES, CHUNKS_PER_COMMIT, type KvContext, type KvDb, type KvEntry, type KvKey, RACE_RETRIES } from "./kv.ts";
import { eraseActive } from "./segments.ts";

type RecordingMethods = Pick<RecordingStorage, "save" | "load" | "list" | "delete" | "clear" | "cleanup">;

export function recordingMethods(ctx: KvContext): RecordingMethods {
  return {
    async save(summary, bytes) {
      assertValidId(summary.id);
      await save(await ctx.db(), summary, bytes, ctx);
    },
    async load(id) {
      assertValidId(id);
      return load(await ctx.db(), id);
    },
    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      const heads = (await summaries(await ctx.db())).flatMap(({ head }) => (head ? [toSummary(head)] : []));
      return pageSummaries(heads, filter);
    },
    async delete(id) {
      assertValidId(id);
      return remove(await ctx.db(), id);
    },
    async clear() {
      const db = await ctx.db();
      const { prefix, secret, erasures } = db.keys;
      const secretKey = JSON.stringify(secret);
      const kept = (key: KvKey) => JSON.stringify(key) === secretKey || key[erasures.length - 1] === "erasure";
      await db.deleteKeys((await db.listAll(prefix, 500)).map((entry) => entry.key).filter((key) => !kept(key)));
    },
    async cleanup(policy: CleanupPolicy) {
      return cleanup(await ctx.db(), policy);
    },
  };
}

async function save(db: KvDb, summary: RecordingSummary, bytes: Uint8Array, ctx: KvContext): Promise<void> {
  const id = summary.id;
  const gen = randomToken(10);
  const count = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
  const chunk = (i: number) => bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
  const chunkKeys = db.keys.chunks(id, gen, count);
  const value = encodeJson({ ...summary, gen, chunks: count, bytes: bytes.length } satisfies Head);
  const key = db.keys.summary(id);
  // Chunks that do not fit in the final operation go first, under the new generation nobody reads yet.
  const early = count > CHUNKS_PER_COMMIT;
  /** Once the summary is in, its chunks are what readers follow: a later failure (removing the old chunks) must not touch them. */
  let committed = false;
  try {
    if (early) await db.setInBatches(chunkKeys, chunk, `writing recording ${id}`);
    for (let attempt = 0; ; attempt++) {
      const previous = await db.get(key);
      const result = await db.commitOp((op) => {
        op.check(previous).set(key, value);
        if (!early) chunkKeys.forEach((chunkKey, j) => op.set(chunkKey, chunk(j)));
        return op;
      });
      if (result.ok) {
        committed = true;
        const old = decodeHead(previous.value);
        if (old && old.gen !== gen) await db.deleteKeys(db.keys.chunks(id, old.gen, old.chunks));
        return;
      }
      // Another writer saved the same id in between: ours replaces theirs.
      if (attempt >= RACE_RETRIES) throw new Error(`denoKvStorage: recording ${id} kept changing while it was saved`);
    }
  } catch (error) {
    if (early && !committed) {
      await db.deleteKeys(chunkKeys).catch((cleanupError) =>
        ctx.faults.report("deno-kv: chunks of a failed save left behind", cleanupError, () =>
          `denoKvStorage: saving recording ${id} failed, and its partly written chunks could not be removed; nobody reads them`)
      );
    }
    throw error;
  }
}

async function load(db: KvDb, id: string): Promise<Uint8Array> {
  let problem = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const entry = await db.get(db.keys.summary(id));
    if (entry.value === null) throw new RecordingNotFoundError(id);
    const head = decodeHead(entry.value);
    if (!head || typeof head.gen !== "string" || !Number.isInteger(head.chunks) || !Number.isInteger(head.bytes)) {
      throw new CorruptRecordingError(id, "its summary is unreadable");
    }
    const data = await readChunks(db, head);
    if (typeof data !== "string") return data;
    problem = data;
    // A save of the same id may have replaced the chunks while we read them: look again.
    const now = decodeHead((await db.get(db.keys.summary(id))).value);
    if (!now || now.gen === head.gen) break;
  }
  throw new CorruptRecordingError(id, problem);
}

/** The recording's bytes, or what is wrong with its chunks. */
async function readChunks(db: KvDb, head: Head): Promise<Uint8Array | string> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const entry of await db.listAll(db.keys.chunkPrefix(head.id, head.gen), 20)) {
    const index = entry.key[entry.key.length - 1];
    if (index !== parts.length || !(entry.value instanceof Uint8Array)) return `chunk ${parts.length} of ${head.chunks} is missing or damaged`;
    parts.push(entry.value);
    total += entry.value.length;
  }
  if (parts.length !== head.chunks) return `${parts.length} of ${head.chunks} chunks present`;
  if (total !== head.bytes) return `${total} of ${head.bytes} bytes present`;
  return concat(parts, total);
}

/** Every summary entry, with its decoded head (undefined when the summary itself is damaged). */
async function summaries(db: KvDb): Promise<{ entry: KvEntry<Uint8Array>; head?: Head }[]> {
  return (await db.listAll(db.keys.summaries, 500)).map((entry) => ({ entry, head: decodeHead(entry.value) }));
}

/** Removes a recording if nobody changed its summary since it was read; true when this call removed it. */
async function removeIfUnchanged(db: KvDb, entry: KvEntry<Uint8Array>, head?: Head): Promise<boolean> {
  const result = await db.commitOp((op) => op.check({ key: entry.key, versionstamp: entry.versionstamp }).delete(entry.key));
  if (!result.ok) return false;
  if (head) await db.deleteKeys(db.keys.chunks(head.id, head.gen, head.chunks));
  return true;
}

async function remove(db: KvDb, id: string): Promise<boolean> {
  let removed = false;
  for (let attempt = 0; ; attempt++) {
    if (attempt > RACE_RETRIES) throw new Error(`denoKvStorage: recording ${id} kept changing while it was deleted`);
    const entry = await db.get(db.keys.summary(id));
    if (entry.value === null) break;
    if (await removeIfUnchanged(db, entry, decodeHead(entry.value))) {
      removed = true;
      break;
    }
  }
  // Erasure covers the active recording too: its segments and its claim.
  return (await eraseActive(db, id)) || removed;
}

async function cleanup(db: KvDb, policy: CleanupPolicy): Promise<string[]> {
  const all = (await summaries(db)).filter((s) => s.head);
  const byId = new Map(all.map((s) => [s.head!.id, s]));
  const doomed = idsToClean(all.map((s) => toSummary(s.head!)), policy);
  const deleted: string[] = [];
  // Each removal is checked against the summary read above: when several
  // instances clean up at once, exactly one of them removes each recording.
  for (const id of doomed) {
    const { entry, head } = byId.get(id)!;
    if (await removeIfUnchanged(db, entry, head)) {
      await eraseActive(db, id);
      deleted.push(id);
    }
  }
  return deleted;
}
