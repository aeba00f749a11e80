/**
 * Deno KV storage: `Deno.openKv` on Deno (a local path, or the managed KV on
 * Deno Deploy), the `@deno/kv` package on Node (and on Deno when it runs
 * without `--unstable-kv`). Both read and write the same SQLite format.
 *
 * KV values are limited to 64 KiB, so a recording's bytes, and a segment's
 * text, are split into chunks. The parts, each with its invariants:
 *
 *   deno_kv/kv.ts          the key layout under `prefix`, and the calls everything is built from
 *                          (a locked SQLite database is waited out)
 *   deno_kv/codec.ts       every value is bytes (UTF-8 JSON), readable by Deno and Node alike
 *   deno_kv/open.ts        which implementation opens the database, once, on first use
 *   deno_kv/recordings.ts  finalized recordings: a save is atomic for readers (old or new, never a mix)
 *   deno_kv/segments.ts    segments of active recordings
 *   deno_kv/claims.ts      the finalize lease and the shared secret
 *   deno_kv/erasures.ts    erasure marks
 */

import { consoleLogger, Faults, type Logger } from "../logger.ts";
import type { RecordingStorage } from "./types.ts";
import { claimMethods } from "./deno_kv/claims.ts";
import { erasureMethods } from "./deno_kv/erasures.ts";
import { type Kv, type KvContext, KvKeys } from "./deno_kv/kv.ts";
import { KvOpener, normalizePath } from "./deno_kv/open.ts";
import { recordingMethods } from "./deno_kv/recordings.ts";
import { segmentMethods } from "./deno_kv/segments.ts";

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
  /**
   * Where the storage reports what went wrong without failing a call (e.g. the
   * chunks of a failed save that could not be removed). Default: the console.
   * A persistence worker opens its own handle, which logs to the console.
   */
  logger?: Logger;
}

export interface DenoKvStorage extends RecordingStorage {
  /** Which implementation the database was opened with, once it is open. */
  implementation(): Promise<"Deno.openKv" | "@deno/kv" | "given">;
  /** Closes the database (not a handle given as `kv`). */
  close(): Promise<void>;
}

export function denoKvStorage(options: DenoKvStorageOptions = {}): DenoKvStorage {
  const path = normalizePath(options.path);
  const prefix = [...(options.prefix ?? ["hono_replay"])];
  const opener = new KvOpener(new KvKeys(prefix), path, options.kv as Kv | undefined);
  const ctx: KvContext = { db: () => opener.db(), faults: new Faults(options.logger ?? consoleLogger) };
  return {
    name: "deno-kv",
    // Without a path, Deno.openKv() in a worker is not the main thread's database (its default follows the
    // main module): the engine then runs in-process, on the same handle.
    spec: options.kv || path === undefined || path === "" || path === ":memory:" ? undefined : {
      module: import.meta.url,
      export: "denoKvStorage",
      options: { path, prefix } satisfies DenoKvStorageOptions,
    },
    async implementation() {
      await opener.db();
      return opener.implementation;
    },
    ...recordingMethods(ctx),
    ...segmentMethods(ctx),
    ...claimMethods(ctx),
    ...erasureMethods(ctx),
    close: () => opener.close(),
  };
}
