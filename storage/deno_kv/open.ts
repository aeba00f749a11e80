/**
 * Opening the database for denoKvStorage: `Deno.openKv` on Deno (a local path,
 * or the managed KV on Deno Deploy), the `@deno/kv` package on Node (and on
 * Deno when it runs without `--unstable-kv`), or a handle the caller gave.
 * Both implementations read and write the same SQLite format.
 *
 * Opened on first use, once; a handle the caller gave is never closed here.
 */

import { resolve } from "node:path";
import { type Kv, KvDb, type KvKeys } from "./kv.ts";

export type Implementation = "Deno.openKv" | "@deno/kv" | "given";

export class KvOpener {
  implementation: Implementation = "given";
  private opened: Promise<KvDb> | undefined;
  private closed = false;
  private readonly deno: { openKv?: (path?: string) => Promise<Kv> } | undefined;

  /** Throws when there is nothing to open: on Node, neither a path nor a handle. */
  constructor(private readonly keys: KvKeys, private readonly path: string | undefined, private readonly given: Kv | undefined) {
    // deno-lint-ignore no-explicit-any
    this.deno = (globalThis as any).Deno;
    if (!given && path === undefined && !this.deno) {
      throw new TypeError("denoKvStorage: give a path (a database file, or a KV Connect URL); on Node there is no default database");
    }
  }

  db(): Promise<KvDb> {
    if (this.closed) return Promise.reject(new Error("denoKvStorage: used after close()"));
    if (this.given) return Promise.resolve(new KvDb(this.given, this.keys));
    this.opened ??= this.open().then((kv) => new KvDb(kv, this.keys));
    return this.opened;
  }

  private async open(): Promise<Kv> {
    if (typeof this.deno?.openKv === "function") {
      this.implementation = "Deno.openKv";
      return this.deno.openKv(this.path);
    }
    if (this.path === undefined) {
      throw new Error('denoKvStorage: Deno.openKv is not available: run Deno with --unstable-kv (or "unstable": ["kv"] in deno.json), or give a path');
    }
    this.implementation = "@deno/kv";
    const { openKv } = await import("@deno/kv");
    return (await openKv(this.path)) as unknown as Kv;
  }

  /** Closes the database this opened (not a given handle); later calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A database that failed to open has nothing to close; the failure went to whoever used it.
    const db = await this.opened?.catch(() => undefined);
    db?.kv.close();
  }
}

/** A local path made absolute (a worker resolves it from the same place); URLs and the in-memory database as they are. */
export function normalizePath(path: string | undefined): string | undefined {
  if (path === undefined || path === "" || path === ":memory:") return path;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  return resolve(path);
}
