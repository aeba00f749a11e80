/**
 * Deno KV storage: `Deno.openKv` on Deno (a local path, or the managed KV on
 * Deno Deploy), the `@deno/kv` package on Node (and on Deno when it runs
 * without `--unstable-kv`). Both read and write the same SQLite format.
 *
 * KV values are limited to 64 KiB, so a recording's bytes are split into
 * chunks. Keys, under `prefix` (default ["hono_replay"]):
 *
 *   [...prefix, "s", id]                → the summary, plus the generation and chunk count of its data
 *   [...prefix, "d", id, generation, i] → chunk i of the recording bytes
 *
 * and for active recordings (segments appended by instances, the finalize lease):
 *
 *   [...prefix, "seg", id, key]                 → segment header: lastAt, generation, chunk count, byte count
 *   [...prefix, "segd", id, key, generation, i] → chunk i of the segment's text (UTF-8)
 *   [...prefix, "claim", id]                    → the lease: owner, until (epoch ms)
 *   [...prefix, "erasure", erasure id]          → an erasure mark (JSON), expiring at its `until`; kept by clear()
 *
 * Every value is a Uint8Array (summaries as UTF-8 JSON): KV stores bytes as
 * they are, whereas objects go through V8 serialization, whose version differs
 * between Deno and Node, so a database written by one could not be read by the other.
 *
 * A save writes its chunks under a fresh generation and then, in one atomic
 * operation checked against the previous summary, the summary that points at
 * them; a recording that fits in one operation (up to 540 KB) is written
 * entirely in that one. Readers follow the summary, so they see the old
 * recording or the new one, never a mix. Listing reads the summary keys only.
 * SQLite's "database is locked" (another connection, e.g. the persistence
 * worker, is writing) is waited out.
 */

import { resolve } from "node:path";
import {
  assertValidId,
  CorruptRecordingError,
  randomToken,
  RecordingNotFoundError,
  type RecordingSummary,
} from "../format/mod.ts";
import { checkErasure, idsToClean, pageSummaries, parseErasure, unexpired } from "./filter.ts";
import type { CleanupPolicy, Erasure, RecordingStorage, Segment, SegmentInfo, SummaryFilter, SummaryPage } from "./types.ts";

export interface DenoKvStorageOptions {
  /**
   * A local database file, or the URL of a KV Connect endpoint. On Deno it may
   * be left out: `Deno.openKv()`'s default (the managed KV on Deno Deploy).
   * Required on Node.
   */
  path?: string;
  /** Key prefix, so one database can hold other data too. Default ["hono_replay"]. */
  prefix?: string[];
  /**
   * An open KV handle to use instead (`await Deno.openKv()`). It cannot be
   * handed to a worker, so the drain loop then runs in the request thread;
   * `close()` leaves it open.
   */
  kv?: unknown;
}

export interface DenoKvStorage extends RecordingStorage {
  /** Which implementation the database was opened with, once it is open. */
  implementation(): Promise<"Deno.openKv" | "@deno/kv" | "given">;
  /** Closes the database (not a handle given as `kv`). */
  close(): Promise<void>;
}

type KvKey = readonly (string | number)[];
interface KvEntry<T> {
  key: KvKey;
  value: T | null;
  versionstamp: string | null;
}
interface KvAtomic {
  check(...checks: { key: KvKey; versionstamp: string | null }[]): KvAtomic;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  delete(key: KvKey): KvAtomic;
  commit(): Promise<{ ok: boolean }>;
}
/** The part of Deno.Kv (and @deno/kv's Kv) this storage uses. */
interface Kv {
  get<T>(key: KvKey): Promise<KvEntry<T>>;
  list<T>(selector: { prefix: KvKey }, options?: { batchSize?: number }): AsyncIterable<KvEntry<T>>;
  atomic(): KvAtomic;
  close(): void;
}

interface Head extends RecordingSummary {
  /** Generation of the data chunks. */
  gen: string;
  chunks: number;
  bytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encodeHead = (head: Head): Uint8Array => encoder.encode(JSON.stringify(head));

function decodeHead(value: unknown): Head | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    return JSON.parse(decoder.decode(value)) as Head;
  } catch {
    return undefined;
  }
}

/** A segment's header: where its text is, and when the recording was last active. */
interface SegmentHead {
  lastAt: number;
  gen: string;
  chunks: number;
  bytes: number;
}

function decodeJson<T>(value: unknown, valid: (v: T) => boolean): T | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    const parsed = JSON.parse(decoder.decode(value)) as T;
    return parsed && typeof parsed === "object" && valid(parsed) ? parsed : undefined;
  } catch {
    return undefined; // the caller reports the damage (a header that cannot be read)
  }
}

const decodeSegmentHead = (value: unknown) =>
  decodeJson<SegmentHead>(value, (h) => typeof h.gen === "string" && Number.isInteger(h.chunks) && Number.isInteger(h.bytes) && typeof h.lastAt === "number");
const decodeClaim = (value: unknown) => decodeJson<{ owner: string; until: number }>(value, (c) => typeof c.owner === "string" && typeof c.until === "number");

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

/** Under the 64 KiB value limit with room for the serialization header. */
const CHUNK_BYTES = 60_000;
/** Chunks per atomic operation: 540 KB plus the summary, under the 800 KiB limit of one operation. */
const CHUNKS_PER_COMMIT = 9;
/** Deletes per atomic operation. */
const DELETES_PER_COMMIT = 100;
/** How often a save or delete re-reads and retries after losing a race for the same id. */
const RACE_RETRIES = 20;
/** How often an operation is tried again while another connection holds SQLite's write lock (about 10 s in all). */
const BUSY_RETRIES = 60;
/** Checks per atomic operation: denokv's limit (MAX_CHECKS) has been 10. */
const CHECKS_PER_COMMIT = 10;
/** How long past its `until` an abandoned claim stays in the database before KV expires it. */
const CLAIM_GRACE_MS = 3_600_000;

export function denoKvStorage(options: DenoKvStorageOptions = {}): DenoKvStorage {
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno as { openKv?: (path?: string) => Promise<Kv> } | undefined;
  const given = options.kv as Kv | undefined;
  const path = normalizePath(options.path);
  if (!given && path === undefined && !deno) {
    throw new TypeError("denoKvStorage: give a path (a database file, or a KV Connect URL); on Node there is no default database");
  }
  const prefix = [...(options.prefix ?? ["hono_replay"])];
  const summaryKey = (id: string): KvKey => [...prefix, "s", id];
  const chunkPrefix = (id: string, gen: string): KvKey => [...prefix, "d", id, gen];
  const chunkKeys = (id: string, gen: string, count: number): KvKey[] =>
    Array.from({ length: count }, (_, i) => [...chunkPrefix(id, gen), i]);
  const segmentKey = (id: string, key: string): KvKey => [...prefix, "seg", id, key];
  const segmentTextPrefix = (id: string): KvKey => [...prefix, "segd", id];
  const segmentChunkKeys = (id: string, key: string, head: SegmentHead): KvKey[] =>
    Array.from({ length: head.chunks }, (_, i) => [...prefix, "segd", id, key, head.gen, i]);
  const claimKey = (id: string): KvKey => [...prefix, "claim", id];
  /** The store's shared secret (storage/types.ts sharedSecret): kept by clear(). */
  const secretKey: KvKey = [...prefix, "secret"];
  /** Erasure marks: kept by clear() too. */
  const erasurePrefix: KvKey = [...prefix, "erasure"];
  let implementation: "Deno.openKv" | "@deno/kv" | "given" = "given";
  let opened: Promise<Kv> | undefined;
  let closed = false;

  function kv(): Promise<Kv> {
    if (closed) return Promise.reject(new Error("denoKvStorage: used after close()"));
    if (given) return Promise.resolve(given);
    opened ??= (async () => {
      if (typeof deno?.openKv === "function") {
        implementation = "Deno.openKv";
        return deno.openKv(path);
      }
      if (path === undefined) {
        throw new Error('denoKvStorage: Deno.openKv is not available: run Deno with --unstable-kv (or "unstable": ["kv"] in deno.json), or give a path');
      }
      implementation = "@deno/kv";
      const { openKv } = await import("@deno/kv");
      return (await openKv(path)) as unknown as Kv;
    })();
    return opened;
  }

  /** One call to the database, tried again while SQLite says "database is locked" (nothing was done then). */
  async function busy<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!isBusy(error) || attempt >= BUSY_RETRIES) throw error;
        await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** attempt, 200) * (0.5 + Math.random())));
      }
    }
  }

  const get = (db: Kv, key: KvKey) => busy(() => db.get<Uint8Array>(key));

  /** Builds and commits one atomic operation; `ok` is false when a check failed. */
  const commitOp = (db: Kv, build: (op: KvAtomic) => KvAtomic) => busy(() => build(db.atomic()).commit());

  async function commit(db: Kv, build: (op: KvAtomic) => KvAtomic, what: string): Promise<void> {
    if (!(await commitOp(db, build)).ok) throw new Error(`denoKvStorage: ${what} was not committed`);
  }

  const listAll = (db: Kv, keyPrefix: KvKey, batchSize: number) =>
    busy(async () => {
      const entries: KvEntry<Uint8Array>[] = [];
      for await (const entry of db.list<Uint8Array>({ prefix: keyPrefix }, { batchSize })) entries.push(entry);
      return entries;
    });

  /** Deletes keys in batches of atomic operations. */
  async function deleteKeys(db: Kv, keys: KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETES_PER_COMMIT) {
      await commit(db, (op) => {
        for (const key of keys.slice(i, i + DELETES_PER_COMMIT)) op.delete(key);
        return op;
      }, "a delete");
    }
  }

  /** Every summary entry, with its decoded head (undefined when the summary itself is damaged). */
  async function summaries(db: Kv): Promise<{ entry: KvEntry<Uint8Array>; head?: Head }[]> {
    return (await listAll(db, [...prefix, "s"], 500)).map((entry) => ({ entry, head: decodeHead(entry.value) }));
  }

  /** Removes a recording if nobody changed its summary since it was read; true when this call removed it. */
  async function removeIfUnchanged(db: Kv, entry: KvEntry<Uint8Array>, head?: Head): Promise<boolean> {
    const result = await commitOp(db, (op) => op.check({ key: entry.key, versionstamp: entry.versionstamp }).delete(entry.key));
    if (!result.ok) return false;
    if (head) await deleteKeys(db, chunkKeys(head.id, head.gen, head.chunks));
    return true;
  }

  /** The recording's bytes, or what is wrong with its chunks. */
  async function readChunks(db: Kv, head: Head): Promise<Uint8Array | string> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const entry of await listAll(db, chunkPrefix(head.id, head.gen), 20)) {
      const index = entry.key[entry.key.length - 1];
      if (index !== parts.length || !(entry.value instanceof Uint8Array)) return `chunk ${parts.length} of ${head.chunks} is missing or damaged`;
      parts.push(entry.value);
      total += entry.value.length;
    }
    if (parts.length !== head.chunks) return `${parts.length} of ${head.chunks} chunks present`;
    if (total !== head.bytes) return `${total} of ${head.bytes} bytes present`;
    const out = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  async function saveOnce(db: Kv, summary: RecordingSummary, bytes: Uint8Array): Promise<void> {
    const id = summary.id;
    const gen = randomToken(10);
    const count = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
    const chunk = (i: number) => bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    const value = encodeHead({ ...summary, gen, chunks: count, bytes: bytes.length });
    const key = summaryKey(id);
    // Chunks that do not fit in the final operation go first, under the new generation nobody reads yet.
    const early = count > CHUNKS_PER_COMMIT ? count : 0;
    try {
      for (let i = 0; i < early; i += CHUNKS_PER_COMMIT) {
        await commit(db, (op) => {
          for (let j = i; j < Math.min(early, i + CHUNKS_PER_COMMIT); j++) op.set([...chunkPrefix(id, gen), j], chunk(j));
          return op;
        }, `writing recording ${id}`);
      }
      for (let attempt = 0; ; attempt++) {
        const previous = await get(db, key);
        const result = await commitOp(db, (op) => {
          op.check(previous).set(key, value);
          if (!early) for (let j = 0; j < count; j++) op.set([...chunkPrefix(id, gen), j], chunk(j));
          return op;
        });
        if (result.ok) {
          const old = decodeHead(previous.value);
          if (old && old.gen !== gen) await deleteKeys(db, chunkKeys(id, old.gen, old.chunks));
          return;
        }
        // Another writer saved the same id in between: ours replaces theirs.
        if (attempt >= RACE_RETRIES) throw new Error(`denoKvStorage: recording ${id} kept changing while it was saved`);
      }
    } catch (error) {
      if (early) await deleteKeys(db, chunkKeys(id, gen, count)).catch(() => {});
      throw error;
    }
  }

  async function appendOnce(db: Kv, segment: Segment): Promise<void> {
    const { recordingId: id, key } = segment;
    const bytes = encoder.encode(segment.text);
    const head: SegmentHead = { lastAt: segment.lastAt, gen: randomToken(10), chunks: Math.ceil(bytes.length / CHUNK_BYTES), bytes: bytes.length };
    const textKeys = segmentChunkKeys(id, key, head);
    const chunk = (i: number) => bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    const headerKey = segmentKey(id, key);
    // Text that does not fit in the header's operation goes first, under the new generation nobody reads yet.
    const early = head.chunks > CHUNKS_PER_COMMIT ? head.chunks : 0;
    /** Once the header is in, its chunks are what readers follow: a later failure (removing the old text) must not touch them. */
    let committed = false;
    try {
      for (let i = 0; i < early; i += CHUNKS_PER_COMMIT) {
        await commit(db, (op) => {
          for (let j = i; j < Math.min(early, i + CHUNKS_PER_COMMIT); j++) op.set(textKeys[j], chunk(j));
          return op;
        }, `writing segment ${key} of recording ${id}`);
      }
      // Keys are new but for a retried append: expect no header, read one only when there is.
      let previous: { key: KvKey; versionstamp: string | null; value?: unknown } = { key: headerKey, versionstamp: null };
      for (let attempt = 0; ; attempt++) {
        const result = await commitOp(db, (op) => {
          op.check(previous).set(headerKey, encoder.encode(JSON.stringify(head)));
          if (!early) for (let j = 0; j < head.chunks; j++) op.set(textKeys[j], chunk(j));
          return op;
        });
        if (result.ok) {
          committed = true;
          const old = decodeSegmentHead(previous.value);
          if (old && old.gen !== head.gen) await deleteKeys(db, segmentChunkKeys(id, key, old));
          return;
        }
        if (attempt >= RACE_RETRIES) throw new Error(`denoKvStorage: segment ${key} of recording ${id} kept changing while it was appended`);
        previous = await get(db, headerKey);
      }
    } catch (error) {
      if (!early || committed) throw error;
      try {
        await deleteKeys(db, textKeys);
      } catch (cleanupError) {
        throw new Error(
          `denoKvStorage: appending segment ${key} of recording ${id} failed (${(error as Error)?.message ?? error}), and its partly written text could not be removed (${(cleanupError as Error)?.message ?? cleanupError}); nobody reads it, and deleting the recording removes it`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Deletes segments of a recording (all of them when `keys` is undefined):
   * each header with a check on the versionstamp it was read with, in the same
   * operation as its chunks, so a header re-appended meanwhile is read again
   * rather than left without text. Returns how many headers this call deleted.
   */
  async function removeSegments(db: Kv, id: string, keys?: Set<string>): Promise<number> {
    const keyOf = (entry: KvEntry<Uint8Array>) => String(entry.key[entry.key.length - 1]);
    let pending = (await listAll(db, [...prefix, "seg", id], 500)).filter((entry) => !keys || keys.has(keyOf(entry)));
    let removed = 0;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > RACE_RETRIES) throw new Error(`denoKvStorage: segments of recording ${id} kept changing while they were deleted`);
      const changed: KvEntry<Uint8Array>[] = [];
      const deletesOf = (entry: KvEntry<Uint8Array>) => 1 + (decodeSegmentHead(entry.value)?.chunks ?? 0);
      for (let i = 0; i < pending.length;) {
        // Up to CHECKS_PER_COMMIT headers and DELETES_PER_COMMIT deletes (more only when one segment alone has more chunks).
        const batch = [pending[i]];
        let deletes = deletesOf(pending[i]);
        for (let j = i + 1; j < pending.length && batch.length < CHECKS_PER_COMMIT && deletes + deletesOf(pending[j]) <= DELETES_PER_COMMIT; j++) {
          batch.push(pending[j]);
          deletes += deletesOf(pending[j]);
        }
        i += batch.length;
        const result = await commitOp(db, (op) => {
          for (const entry of batch) {
            op.check(entry).delete(entry.key);
            // A header nobody can read names no chunks: they stay until the recording is erased.
            const head = decodeSegmentHead(entry.value);
            if (head) for (const chunkKey of segmentChunkKeys(id, keyOf(entry), head)) op.delete(chunkKey);
          }
          return op;
        });
        if (result.ok) removed += batch.length;
        else changed.push(...batch);
      }
      pending = (await Promise.all(changed.map((entry) => get(db, entry.key)))).filter((entry) => entry.value !== null);
    }
    return removed;
  }

  /** Everything of a recording that is not its summary and chunks: segment headers, all segment text (orphans too), the claim. True when it had segments. */
  async function eraseActive(db: Kv, id: string): Promise<boolean> {
    const hadSegments = (await removeSegments(db, id)) > 0;
    await deleteKeys(db, [...(await listAll(db, segmentTextPrefix(id), 100)).map((entry) => entry.key), claimKey(id)]);
    return hadSegments;
  }

  /** The recording's segments, or the first segment whose text is missing or damaged (which a concurrent write can cause: the caller reads again). */
  async function readSegments(db: Kv, id: string): Promise<Segment[] | { key: string; problem: string }> {
    const heads = await listAll(db, [...prefix, "seg", id], 500);
    // Every chunk of the recording in one range read, by segment key and generation, then by index.
    const parts = new Map<string, Map<unknown, unknown>>();
    for (const entry of await listAll(db, segmentTextPrefix(id), 20)) {
      const [key, gen, index] = entry.key.slice(-3);
      const name = JSON.stringify([key, gen]);
      let chunks = parts.get(name);
      if (!chunks) parts.set(name, (chunks = new Map()));
      chunks.set(index, entry.value);
    }
    const out: Segment[] = [];
    for (const entry of heads) {
      const key = String(entry.key[entry.key.length - 1]);
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
      const bytes = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        bytes.set(c, at);
        at += c.length;
      }
      out.push({ recordingId: id, key, lastAt: head.lastAt, text: decoder.decode(bytes) });
    }
    return out;
  }

  return {
    name: "deno-kv",
    // Without a path, Deno.openKv() in a worker is not the main thread's database (its default follows the
    // main module): the engine then runs in-process, on the same handle.
    spec: given || path === undefined || path === "" || path === ":memory:" ? undefined : {
      module: import.meta.url,
      export: "denoKvStorage",
      options: { path, prefix } satisfies DenoKvStorageOptions,
    },

    async implementation() {
      await kv();
      return implementation;
    },

    async save(summary, bytes) {
      assertValidId(summary.id);
      await saveOnce(await kv(), summary, bytes);
    },

    async load(id) {
      assertValidId(id);
      const db = await kv();
      let problem = "";
      for (let attempt = 0; attempt < 3; attempt++) {
        const entry = await get(db, summaryKey(id));
        if (entry.value === null) throw new RecordingNotFoundError(id);
        const head = decodeHead(entry.value);
        if (!head || typeof head.gen !== "string" || !Number.isInteger(head.chunks) || !Number.isInteger(head.bytes)) {
          throw new CorruptRecordingError(id, "its summary is unreadable");
        }
        const data = await readChunks(db, head);
        if (typeof data !== "string") return data;
        problem = data;
        // A save of the same id may have replaced the chunks while we read them: look again.
        const now = decodeHead((await get(db, summaryKey(id))).value);
        if (!now || now.gen === head.gen) break;
      }
      throw new CorruptRecordingError(id, problem);
    },

    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      const heads = (await summaries(await kv())).flatMap(({ head }) => (head ? [toSummary(head)] : []));
      return pageSummaries(heads, filter);
    },

    async delete(id) {
      assertValidId(id);
      const db = await kv();
      let removed = false;
      for (let attempt = 0; ; attempt++) {
        if (attempt > RACE_RETRIES) throw new Error(`denoKvStorage: recording ${id} kept changing while it was deleted`);
        const entry = await get(db, summaryKey(id));
        if (entry.value === null) break;
        if (await removeIfUnchanged(db, entry, decodeHead(entry.value))) {
          removed = true;
          break;
        }
      }
      // Erasure covers the active recording too: its segments and its claim.
      return (await eraseActive(db, id)) || removed;
    },

    async clear() {
      const db = await kv();
      const secret = JSON.stringify(secretKey);
      const kept = (key: KvKey) => JSON.stringify(key) === secret || key[erasurePrefix.length - 1] === "erasure";
      await deleteKeys(db, (await listAll(db, prefix, 500)).map((entry) => entry.key).filter((key) => !kept(key)));
    },

    async cleanup(policy: CleanupPolicy) {
      const db = await kv();
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
    },

    async appendSegment(segment) {
      checkSegment(segment);
      await appendOnce(await kv(), segment);
    },

    async loadSegments(recordingId) {
      const db = await kv();
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
    },

    async listSegments() {
      const at = prefix.length + 1;
      return (await listAll(await kv(), [...prefix, "seg"], 500)).map((entry): SegmentInfo => ({
        recordingId: String(entry.key[at]),
        key: String(entry.key[at + 1]),
        // A header that cannot be read lists as long idle, so finalization gets to it and its load reports the damage.
        lastAt: decodeSegmentHead(entry.value)?.lastAt ?? 0,
      }));
    },

    async deleteSegments(recordingId, keys) {
      if (keys.length === 0) return;
      await removeSegments(await kv(), recordingId, new Set(keys));
    },

    async claim(recordingId, owner, ttlMs) {
      assertValidId(recordingId);
      const db = await kv();
      const key = claimKey(recordingId);
      for (let attempt = 0; attempt <= RACE_RETRIES; attempt++) {
        const entry = await get(db, key);
        const held = decodeClaim(entry.value);
        const now = Date.now();
        if (held && held.owner !== owner && held.until > now) return false;
        const ttl = Math.max(0, Math.ceil(ttlMs));
        // Checked against the claim as read (null: none): of racing instances, one commit passes; the others read again.
        const value = encoder.encode(JSON.stringify({ owner, until: now + ttl }));
        if ((await commitOp(db, (op) => op.check(entry).set(key, value, { expireIn: ttl + CLAIM_GRACE_MS }))).ok) return true;
      }
      throw new Error(`denoKvStorage: the claim on recording ${recordingId} kept changing while it was taken`);
    },

    async sharedSecret() {
      const db = await kv();
      // Set only where none is: of instances racing, the first commit wins and everyone reads it.
      await commitOp(db, (op) => op.check({ key: secretKey, versionstamp: null }).set(secretKey, encoder.encode(randomToken(43))));
      const entry = await get(db, secretKey);
      return decoder.decode(entry.value as Uint8Array);
    },

    async addErasure(erasure) {
      const value = encoder.encode(JSON.stringify(checkErasure(erasure)));
      const expireIn = Math.max(1, Math.ceil(erasure.until - Date.now()));
      const key = [...erasurePrefix, erasure.id];
      // Only where none is: the same id again changes nothing.
      await commitOp(await kv(), (op) => op.check({ key, versionstamp: null }).set(key, value, { expireIn }));
    },

    async listErasures() {
      const entries = await listAll(await kv(), erasurePrefix, 500);
      const marks = entries.flatMap((entry) => (entry.value instanceof Uint8Array ? [parseErasure(decoder.decode(entry.value))] : []));
      return unexpired(marks.filter((mark): mark is Erasure => mark !== undefined));
    },

    async release(recordingId, owner) {
      const db = await kv();
      const key = claimKey(recordingId);
      for (let attempt = 0; attempt <= RACE_RETRIES; attempt++) {
        const entry = await get(db, key);
        if (decodeClaim(entry.value)?.owner !== owner) return;
        if ((await commitOp(db, (op) => op.check(entry).delete(key))).ok) return;
      }
      throw new Error(`denoKvStorage: the claim on recording ${recordingId} kept changing while it was released`);
    },

    async close() {
      if (closed) return;
      closed = true;
      const db = await opened?.catch(() => undefined);
      db?.close();
    },
  };
}

function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY|database table is locked/i.test(String((error as Error)?.message ?? error));
}

function toSummary(head: Head): RecordingSummary {
  const { gen: _gen, chunks: _chunks, bytes: _bytes, ...summary } = head;
  return summary;
}

function normalizePath(path: string | undefined): string | undefined {
  if (path === undefined || path === "" || path === ":memory:") return path;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  return resolve(path);
}
