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
import { idsToClean, pageSummaries } from "./filter.ts";
import type { CleanupPolicy, RecordingStorage, SummaryFilter, SummaryPage } from "./types.ts";

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
  set(key: KvKey, value: unknown): KvAtomic;
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

  return {
    name: "deno-kv",
    spec: given || path === undefined && !deno || path === "" || path === ":memory:" ? undefined : {
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
      for (let attempt = 0; attempt <= RACE_RETRIES; attempt++) {
        const entry = await get(db, summaryKey(id));
        if (entry.value === null) return false;
        if (await removeIfUnchanged(db, entry, decodeHead(entry.value))) return true;
      }
      throw new Error(`denoKvStorage: recording ${id} kept changing while it was deleted`);
    },

    async clear() {
      const db = await kv();
      await deleteKeys(db, (await listAll(db, prefix, 500)).map((entry) => entry.key));
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
        if (await removeIfUnchanged(db, entry, head)) deleted.push(id);
      }
      return deleted;
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
