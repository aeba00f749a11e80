/**
 * Recording files of a file storage (file.ts) that cannot be read: a full
 * disk, a process killed mid-write, a file damaged by hand.
 *
 * Invariants, and why:
 * - A recording file that cannot be read is listed by `listCorrupt`, with the
 *   reason: one a rebuilt index left out, and one whose size differs from
 *   what the index says was saved (truncated, emptied). Sizes are compared
 *   first (every save records the file's size), so listing opens only the
 *   files that fail that check, and each of those once per change (by mtime
 *   and size).
 * - `delete` removes such a file like any other; `cleanup` removes files the
 *   index does not list once older than maxAgeMs (by modification time: they
 *   have no summary to date them by).
 */

import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { decodeRecordingFile, isValidId } from "../format/mod.ts";
import type { FileIndex } from "./file_index.ts";
import { eachLimited, type FileContext, tolerate } from "./file_io.ts";
import type { CleanupPolicy, CorruptRecording } from "./types.ts";

export class CorruptFiles {
  /** What decoding found of recording files that failed the size check, by name and version. */
  private readonly verdicts = new Map<string, { mtimeMs: number; size: number; reason?: string }>();

  constructor(private readonly ctx: FileContext, private readonly index: FileIndex) {}

  /** Recording files that cannot be read, newest first. */
  async list(): Promise<CorruptRecording[]> {
    const index = await this.index.read();
    const out: CorruptRecording[] = [];
    await eachLimited(await this.recordingNames(), async (name) => {
      const id = name.slice(0, -4);
      const info = await stat(join(this.ctx.recordings, name)).catch(tolerate(undefined, "ENOENT"));
      // As saved: the size the index has for it (every save records the file's size).
      if (!info || index[id]?.sizeBytes === info.size) return;
      const reason = await this.verdict(name, info);
      if (reason) out.push({ id, reason, sizeBytes: info.size, modifiedAt: info.mtimeMs });
    });
    return out.sort((a, b) => b.modifiedAt - a.modifiedAt || (a.id < b.id ? -1 : 1));
  }

  /** Recording files the index does not list (corrupt ones a rebuild left out), older than maxAgeMs. */
  async removeUnindexed(policy: CleanupPolicy): Promise<string[]> {
    const index = await this.index.read();
    const cutoff = (policy.now ?? Date.now()) - policy.maxAgeMs;
    const removed: string[] = [];
    const dir = this.ctx.recordings;
    await eachLimited((await this.recordingNames()).filter((name) => !Object.hasOwn(index, name.slice(0, -4))), async (name) => {
      const info = await stat(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      if (!info || info.mtimeMs >= cutoff) return;
      await unlink(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      removed.push(name.slice(0, -4));
    });
    return removed;
  }

  private async recordingNames(): Promise<string[]> {
    const names = await readdir(this.ctx.recordings).catch(tolerate([] as string[], "ENOENT"));
    return names.filter((name) => name.endsWith(".hrp") && isValidId(name.slice(0, -4)));
  }

  /** Why a recording file cannot be read, or undefined when it can (or is gone); decoded once per version. */
  private async verdict(name: string, info: { mtimeMs: number; size: number }): Promise<string | undefined> {
    const known = this.verdicts.get(name);
    if (known?.mtimeMs === info.mtimeMs && known.size === info.size) return known.reason;
    const bytes = await readFile(join(this.ctx.recordings, name)).catch(tolerate(undefined, "ENOENT"));
    if (!bytes) return undefined;
    let reason: string | undefined;
    try {
      decodeRecordingFile(name.slice(0, -4), bytes);
    } catch (error) {
      reason = (error as Error).message;
    }
    this.verdicts.set(name, { mtimeMs: info.mtimeMs, size: info.size, reason });
    if (this.verdicts.size > 1_000) this.verdicts.delete(this.verdicts.keys().next().value!);
    return reason;
  }
}
