/**
 * What every part of the file storage (file.ts) shares: where things are, the
 * logger, file modes, and the small helpers for filesystem races.
 *
 * Invariants, and why:
 * - Directories are created 0o700 and files 0o600: recordings hold what
 *   users typed.
 * - `durableWrite` writes a synced temporary file (`<target>.tmp-<token>`)
 *   and renames it into place, so a reader (another thread, another process,
 *   a crash) sees the old file or the new one, never half of one. The
 *   temporary file lives for the milliseconds of one write; one older than
 *   ABANDONED_MS was left by a process that died mid-write (file_temps.ts
 *   removes it).
 * - An expected race (a file another process just removed) is tolerated by
 *   naming its errno code (`tolerate`); every other error is rethrown.
 * - A directory is created once, not before every write into it
 *   (`KnownDirectories`): a mkdir per segment and per save was a tenth of the
 *   persistence worker's store operations. One removed since (by another
 *   process, or `clear()`) makes the write fail with ENOENT, and the write is
 *   made again after creating it.
 */

import { mkdir, open, rename, rm } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { randomToken } from "../format/mod.ts";
import type { Logger } from "../logger.ts";

/** One file storage's places and logger, handed to each of its parts. */
export interface FileContext {
  /** The storage directory (absolute). */
  readonly root: string;
  /** `<root>/recordings`: one `<id>.hrp` per finalized recording. */
  readonly recordings: string;
  readonly logger: Logger;
  /** Directories known to exist (`KnownDirectories`). */
  readonly dirs: KnownDirectories;
}

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
/** An incomplete temporary file (segment, claim, durable write) this old belongs to a writer that died mid-write. */
export const ABANDONED_MS = 60_000;
/** Files read or removed at once: a recording can have thousands of segments, and a process a limit on open files. */
const PARALLEL = 32;

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * A rejection handler: the named errno codes (an expected race, such as a
 * file another process just removed) become `value`; anything else rethrows.
 */
export function tolerate<T>(value: T, ...codes: string[]): (error: unknown) => T {
  return (error) => {
    if (codes.includes(errnoOf(error) ?? "")) return value;
    throw error;
  };
}

/** Runs `work` on every item, at most PARALLEL at once. */
export async function eachLimited<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, lane));
}

/**
 * Writes a file so that a reader (or a crash) sees the old content or the new,
 * never part of it: a synced temporary file renamed into place.
 */
export async function durableWrite(target: string, data: string | Uint8Array): Promise<void> {
  if (!isAbsolute(target)) throw new Error("durableWrite needs an absolute path");
  const temp = `${target}.tmp-${randomToken(8)}`;
  try {
    const handle = await open(temp, "w", FILE_MODE);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Directories this storage created or found (see the header); bounded, cleared when full. */
export class KnownDirectories {
  private readonly known = new Set<string>();

  /** Creates `dir` (and its parents) unless it is known to exist. */
  async ensure(dir: string): Promise<void> {
    if (this.known.has(dir)) return;
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (this.known.size >= KNOWN_DIRECTORIES_MAX) this.known.clear();
    this.known.add(dir);
  }

  /** `dir` was removed, or may have been. */
  forget(dir: string): void {
    this.known.delete(dir);
  }

  /** After `clear()`: nothing is known any more. */
  forgetAll(): void {
    this.known.clear();
  }

  /** Runs `write` into `dir`, creating `dir` first unless known, and once more after creating it if it had gone. */
  async into<T>(dir: string, write: () => Promise<T>): Promise<T> {
    await this.ensure(dir);
    try {
      return await write();
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") throw error;
      this.forget(dir);
      await this.ensure(dir);
      return write();
    }
  }
}

const KNOWN_DIRECTORIES_MAX = 4_096;
