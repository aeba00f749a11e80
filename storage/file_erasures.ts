/**
 * Erasure marks (storage/types.ts `Erasure`) of a file storage, one file each:
 *
 *   <path>/erasures/<id>.json     the mark, as JSON
 *
 * Invariants, and why:
 * - A mark's file is created whole and exclusively (a synced temporary file,
 *   hard-linked into place: link(2) fails where the name exists), so a reader
 *   sees it complete or not at all, and adding an id again changes nothing. It
 *   never changes after, so each handle reads a file once and then keeps it.
 *   Every instance lists the marks about once a second (worker/erasure.ts),
 *   and that costs one readdir.
 * - `clear()` does not touch the directory: a mark must outlive the data it
 *   erased. Marks past their `until` are removed by whichever handle lists them.
 * - A file that is not a mark (damaged, written by something else) is reported
 *   once per handle and skipped; nothing in it is trusted.
 */

import { link, mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomToken } from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { checkErasure, parseErasure } from "./filter.ts";
import type { Erasure, ErasureStore } from "./types.ts";

export function fileErasures(root: string, logger: Logger = consoleLogger): ErasureStore {
  const dir = join(root, "erasures");
  /** Marks read before, by file name; `undefined` for a file that is not a mark. */
  const read = new Map<string, Erasure | undefined>();
  const gone = (error: unknown) => {
    if ((error as NodeJS.ErrnoException)?.code === "ENOENT") return undefined;
    throw error;
  };

  async function load(name: string): Promise<Erasure | undefined> {
    if (read.has(name)) return read.get(name);
    const text = await readFile(join(dir, name), "utf8").catch(gone);
    if (text === undefined) return undefined; // removed meanwhile (expired)
    const mark = parseErasure(text);
    if (!mark) logger.warn(`${join(dir, name)} is not an erasure mark; it is ignored: remove it`);
    read.set(name, mark);
    return mark;
  }

  return {
    async addErasure(erasure) {
      checkErasure(erasure);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const temp = join(dir, `.${randomToken(8)}.tmp`);
      try {
        const handle = await open(temp, "wx", 0o600);
        try {
          await handle.writeFile(JSON.stringify(erasure));
          await handle.sync();
        } finally {
          await handle.close();
        }
        await link(temp, join(dir, `${erasure.id}.json`)).catch((error) => {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error; // there already: nothing changes
        });
      } finally {
        await unlink(temp).catch(gone);
      }
    },

    async listErasures() {
      const names = ((await readdir(dir).catch(gone)) ?? []).filter((name) => name.endsWith(".json"));
      const listed = new Set(names);
      for (const name of read.keys()) if (!listed.has(name)) read.delete(name);
      const now = Date.now();
      const out: Erasure[] = [];
      for (const name of names) {
        const mark = await load(name);
        if (!mark) continue;
        if (mark.until > now) out.push(structuredClone(mark));
        else await unlink(join(dir, name)).catch(gone);
      }
      return out;
    },
  };
}
