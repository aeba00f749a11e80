/**
 * Removes what writers of a file storage (file.ts) left by dying mid-write:
 * the temporary files of durable writes (file_io.ts).
 *
 *   <path>/recordings/<id>.hrp.tmp-<token>     a recording being saved
 *   <path>/index.json.tmp-<token>              the index being replaced
 *   <path>/.secret.<token>.tmp                 the shared secret being created
 *
 * Invariants, and why:
 * - Such a file lives for the milliseconds of one write; one older than
 *   ABANDONED_MS was left by a process that died mid-write. Nothing else
 *   would ever remove it, and a full disk is made of them.
 * - The sweep runs on every `cleanup`, and from the store sweep's
 *   `listSegments` at most once per ABANDONED_MS (that runs every idle/4, at
 *   most a minute apart: it is the storage's maintenance pass). What it
 *   removes is reported, loudly.
 * - Segment and claim temporary files are not here: their own parts settle
 *   them (file_segments.ts, file_claims.ts).
 */

import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ABANDONED_MS, eachLimited, type FileContext, tolerate } from "./file_io.ts";

/** A durable write's temporary file: `<target>.tmp-<token>` (recordings, the index), `.secret.<token>.tmp`. */
const DURABLE_TEMP = /(\.tmp-[A-Za-z0-9]+|^\.secret\.[A-Za-z0-9]+\.tmp)$/;

export class TempSweep {
  private lastSweep = 0;

  constructor(private readonly ctx: FileContext) {}

  /** Sweeps unless this handle did within ABANDONED_MS. */
  async sweepIfDue(): Promise<void> {
    if (Date.now() - this.lastSweep > ABANDONED_MS) await this.sweep();
  }

  /** Removes temporary files of durable writes whose writer died (older than ABANDONED_MS). */
  async sweep(): Promise<void> {
    this.lastSweep = Date.now();
    const abandoned: string[] = [];
    for (const where of [this.ctx.recordings, this.ctx.root]) {
      const names = (await readdir(where).catch(tolerate([] as string[], "ENOENT"))).filter((name) => DURABLE_TEMP.test(name));
      await eachLimited(names, async (name) => {
        const info = await stat(join(where, name)).catch(tolerate(undefined, "ENOENT"));
        if (!info || Date.now() - info.mtimeMs < ABANDONED_MS) return;
        await unlink(join(where, name)).catch(tolerate(undefined, "ENOENT"));
        abandoned.push(name);
      });
    }
    if (abandoned.length) {
      this.ctx.logger.warn(`removed ${abandoned.length} temporary file(s) that writers which died mid-write left in ${this.ctx.root} (${abandoned.slice(0, 3).join(", ")}${abandoned.length > 3 ? ", …" : ""})`);
    }
  }
}
