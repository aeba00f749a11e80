/**
 * The database as denoKvStorage uses it: the part of Deno.Kv (and @deno/kv's
 * Kv) it calls, the key layout under `prefix`, and `KvDb`, the few operations
 * every other part of the storage is built from.
 *
 * Keys, under `prefix` (default ["hono_replay"]):
 *
 *   [...prefix, "s", id]                        → the summary, plus the generation and chunk count of its data
 *   [...prefix, "d", id, generation, i]         → chunk i of the recording bytes
 *   [...prefix, "seg", id, key]                 → segment header: lastAt, generation, chunk count, byte count
 *   [...prefix, "segd", id, key, generation, i] → chunk i of the segment's text (UTF-8)
 *   [...prefix, "claim", id]                    → the lease: owner, until (epoch ms)
 *   [...prefix, "erasure", erasure id]          → an erasure mark (JSON), expiring at its `until`; kept by clear()
 *   [...prefix, "secret"]                       → the store's shared secret; kept by clear()
 *
 * Invariant: SQLite's "database is locked" (another connection, e.g. the
 * persistence worker, is writing) is waited out, never reported: nothing was
 * done when it is raised, so every call through `KvDb` is tried again
 * (`busy`), for about 10 s in all.
 */

import type { Faults } from "../../logger.ts";

export type KvKey = readonly (string | number)[];
export interface KvEntry<T> {
  key: KvKey;
  value: T | null;
  versionstamp: string | null;
}
export interface KvAtomic {
  check(...checks: { key: KvKey; versionstamp: string | null }[]): KvAtomic;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  delete(key: KvKey): KvAtomic;
  commit(): Promise<{ ok: boolean }>;
}
/** The part of Deno.Kv (and @deno/kv's Kv) this storage uses. */
export interface Kv {
  get<T>(key: KvKey): Promise<KvEntry<T>>;
  list<T>(selector: { prefix: KvKey }, options?: { batchSize?: number }): AsyncIterable<KvEntry<T>>;
  atomic(): KvAtomic;
  close(): void;
}

/** Under the 64 KiB value limit with room for the serialization header. */
export const CHUNK_BYTES = 60_000;
/** Chunks per atomic operation: 540 KB plus the summary, under the 800 KiB limit of one operation. */
export const CHUNKS_PER_COMMIT = 9;
/** Deletes per atomic operation. */
export const DELETES_PER_COMMIT = 100;
/** How often a save or delete re-reads and retries after losing a race for the same id. */
export const RACE_RETRIES = 20;
/** How often an operation is tried again while another connection holds SQLite's write lock (about 10 s in all). */
const BUSY_RETRIES = 60;
/** Checks per atomic operation: denokv's limit (MAX_CHECKS) has been 10. */
export const CHECKS_PER_COMMIT = 10;

/** What every part of the storage is given: the database, and where its handled faults go. */
export interface KvContext {
  /** The database, opened on first use. */
  db(): Promise<KvDb>;
  /** Counts and logs (through the storage's `logger`) what goes wrong without failing the call. */
  faults: Faults;
}

/** Where each kind of value lives (see the module's doc). */
export class KvKeys {
  /** The store's shared secret (storage/types.ts sharedSecret): kept by clear(). */
  readonly secret: KvKey;
  /** Erasure marks: kept by clear() too. */
  readonly erasures: KvKey;
  readonly summaries: KvKey;
  readonly segmentHeads: KvKey;

  constructor(readonly prefix: KvKey) {
    this.secret = [...prefix, "secret"];
    this.erasures = [...prefix, "erasure"];
    this.summaries = [...prefix, "s"];
    this.segmentHeads = [...prefix, "seg"];
  }

  summary = (id: string): KvKey => [...this.prefix, "s", id];
  chunkPrefix = (id: string, gen: string): KvKey => [...this.prefix, "d", id, gen];
  chunks = (id: string, gen: string, count: number): KvKey[] => Array.from({ length: count }, (_, i) => [...this.chunkPrefix(id, gen), i]);
  segmentHeadsOf = (id: string): KvKey => [...this.prefix, "seg", id];
  segment = (id: string, key: string): KvKey => [...this.prefix, "seg", id, key];
  /** Every chunk of every segment of a recording, orphans (of a generation no header names) included. */
  segmentTextOf = (id: string): KvKey => [...this.prefix, "segd", id];
  segmentChunks = (id: string, key: string, head: { gen: string; chunks: number }): KvKey[] =>
    Array.from({ length: head.chunks }, (_, i) => [...this.prefix, "segd", id, key, head.gen, i]);
  claim = (id: string): KvKey => [...this.prefix, "claim", id];
  erasure = (id: string): KvKey => [...this.erasures, id];
}

/** One open database and its key layout: the calls every part of the storage makes, each waiting out a locked database. */
export class KvDb {
  constructor(readonly kv: Kv, readonly keys: KvKeys) {}

  get(key: KvKey): Promise<KvEntry<Uint8Array>> {
    return busy(() => this.kv.get<Uint8Array>(key));
  }

  /** Builds and commits one atomic operation; `ok` is false when a check failed. */
  commitOp(build: (op: KvAtomic) => KvAtomic): Promise<{ ok: boolean }> {
    return busy(() => build(this.kv.atomic()).commit());
  }

  /** Like commitOp, for an operation without checks: one that is not committed is an error. */
  async commit(build: (op: KvAtomic) => KvAtomic, what: string): Promise<void> {
    if (!(await this.commitOp(build)).ok) throw new Error(`denoKvStorage: ${what} was not committed`);
  }

  listAll(keyPrefix: KvKey, batchSize: number): Promise<KvEntry<Uint8Array>[]> {
    return busy(async () => {
      const entries: KvEntry<Uint8Array>[] = [];
      for await (const entry of this.kv.list<Uint8Array>({ prefix: keyPrefix }, { batchSize })) entries.push(entry);
      return entries;
    });
  }

  /** Sets `keys[i]` to `valueOf(i)`, CHUNKS_PER_COMMIT to an atomic operation. */
  async setInBatches(keys: KvKey[], valueOf: (i: number) => Uint8Array, what: string): Promise<void> {
    for (let i = 0; i < keys.length; i += CHUNKS_PER_COMMIT) {
      await this.commit((op) => {
        for (let j = i; j < Math.min(keys.length, i + CHUNKS_PER_COMMIT); j++) op.set(keys[j], valueOf(j));
        return op;
      }, what);
    }
  }

  /** Deletes keys in batches of atomic operations. */
  async deleteKeys(keys: KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETES_PER_COMMIT) {
      await this.commit((op) => {
        for (const key of keys.slice(i, i + DELETES_PER_COMMIT)) op.delete(key);
        return op;
      }, "a delete");
    }
  }
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

function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY|database table is locked/i.test(String((error as Error)?.message ?? error));
}
