/**
 * Segments of active recordings in a file storage (file.ts), appended by
 * every instance that shares the directory:
 *
 *   <path>/segments/<id>/<key>.<lastAt>.seg                   one appended segment
 *   <path>/segments/<id>/<key>.<lastAt>.<bytes>.<token>.tmp   being written
 *
 * Invariants, and why (segments are written about once a second per
 * recording, less often on a busy instance (worker/drain.ts), by several processes, possibly in different PID namespaces,
 * sharing the directory):
 *  - A segment's name carries its header (key and lastAt; keys and recording
 *    ids are [A-Za-z0-9_-], so "." separates), so listing reads no contents.
 *  - No fsync: a killed process's writes survive in the page cache, and an
 *    fsync a second per recording would cost more than the frames are worth.
 *    A process killed between write and rename leaves a complete temporary
 *    file whose name says how many bytes it should have; a reader that finds
 *    one of the full size, older than ORPHAN_MS, renames it into place for the
 *    dead writer (the same rename the writer would have done), so those frames
 *    are not lost. A temporary file that never reached its size is a writer
 *    killed mid-write; it is removed after ABANDONED_MS, loudly.
 *  - Appending a key again replaces the segment: the rename replaces a file of
 *    the same name, and the handle removes the key's earlier name if lastAt
 *    changed. Appends of one key are serialized within a handle; keys start
 *    with an instance id, so two processes never write one key. Should two
 *    names of a key be seen at once, readers take the later lastAt.
 *  - The per-recording directory is removed when its last segment is
 *    deleted; an append that loses its directory to that rmdir recreates it
 *    and writes again (rmdir fails while a temporary file is inside).
 *  - Segment directories are 0o700 and segment files 0o600 (file_io.ts).
 */

import { readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assertValidId, isValidId, randomToken } from "../format/mod.ts";
import { ABANDONED_MS, eachLimited, errnoOf, type FileContext, FILE_MODE, tolerate } from "./file_io.ts";
import type { Segment, SegmentInfo } from "./types.ts";

/**
 * A complete temporary segment this old is an orphan: its writer stopped
 * between write and rename (a live writer renames within milliseconds; should
 * a stalled one be overtaken, the reader does the very rename it would have).
 */
const ORPHAN_MS = 5_000;

const encoder = new TextEncoder();

/** Segment keys name files: the same alphabet as recording ids. */
function assertValidKey(key: unknown): string {
  if (!isValidId(key)) {
    throw new TypeError(`invalid segment key ${JSON.stringify(String(key)).slice(0, 120)}: keys are 1-100 characters of A-Z a-z 0-9 _ - ("<instance id>-<counter>")`);
  }
  return key;
}

/** lastAt as it appears in a file name: no "." (the separator), so a fraction's point becomes "_". */
function encodeLastAt(lastAt: unknown): string {
  if (typeof lastAt !== "number" || !Number.isFinite(lastAt)) {
    throw new TypeError(`segment lastAt must be a finite epoch-ms number (Date.now()), got ${String(lastAt)}`);
  }
  return String(lastAt).replace(".", "_");
}

type TempName = { kind: "tmp"; key: string; lastAt: number; at: string; bytes: number };
type SegmentName = { kind: "seg"; key: string; lastAt: number } | TempName;

/** Parses `<key>.<lastAt>.seg` and `<key>.<lastAt>.<bytes>.<token>.tmp`; anything else is not ours. */
function parseSegmentName(name: string): SegmentName | undefined {
  const parts = name.split(".");
  const [key, at] = parts;
  if (!isValidId(key) || at === undefined) return undefined;
  const lastAt = Number(at.replace("_", "."));
  if (at === "" || !Number.isFinite(lastAt)) return undefined;
  if (parts.length === 3 && parts[2] === "seg") return { kind: "seg", key, lastAt };
  if (parts.length === 5 && parts[4] === "tmp" && /^\d{1,12}$/.test(parts[2])) return { kind: "tmp", key, lastAt, at, bytes: Number(parts[2]) };
  return undefined;
}

/** A recording's published segments, one per key. */
interface Listed {
  key: string;
  lastAt: number;
  name: string;
}

export class FileSegments {
  private readonly root: string;
  /** Appends in flight in this handle, by "<id>/<key>": a retry waits for its original. */
  private readonly appending = new Map<string, Promise<void>>();
  /**
   * The name each recently appended key was published under, so that a retry
   * with another lastAt removes the earlier file without listing the directory
   * (which holds a file per second of the recording). Retries follow their
   * failure closely, so the latest few hundred keys are enough.
   */
  private readonly publishedAs = new Map<string, string>();

  constructor(private readonly ctx: FileContext) {
    this.root = join(ctx.root, "segments");
  }

  /** `<path>/segments`: removed whole by `clear()`. */
  get directory(): string {
    return this.root;
  }

  private dirOf(id: string): string {
    return join(this.root, assertValidId(id));
  }

  /** Throws at once for an invalid id, key or lastAt; otherwise settles when the segment is published. */
  append(segment: Segment): Promise<void> {
    const id = assertValidId(segment.recordingId);
    const key = assertValidKey(segment.key);
    const at = encodeLastAt(segment.lastAt);
    const slot = `${id}/${key}`;
    const previous = this.appending.get(slot) ?? Promise.resolve();
    const done = previous.then(() => this.write(id, key, at, encoder.encode(segment.text)));
    // The caller gets done's outcome; the chain only needs the order, so it never rejects.
    const settled = done.then(() => {}, () => {});
    this.appending.set(slot, settled);
    void settled.then(() => {
      if (this.appending.get(slot) === settled) this.appending.delete(slot);
    });
    return done;
  }

  private async write(id: string, key: string, at: string, bytes: Uint8Array): Promise<void> {
    const dir = this.dirOf(id);
    const target = `${key}.${at}.seg`;
    for (let attempt = 1; ; attempt++) {
      // Made again on a retry: the ENOENT may be the directory, removed by whoever finalized the recording.
      if (attempt > 1) this.ctx.dirs.forget(dir);
      await this.ctx.dirs.ensure(dir);
      const temp = join(dir, `${key}.${at}.${bytes.length}.${randomToken(8)}.tmp`);
      try {
        await writeFile(temp, bytes, { flag: "wx", mode: FILE_MODE });
        await rename(temp, join(dir, target));
        break;
      } catch (error) {
        if (errnoOf(error) !== "ENOENT") {
          await unlink(temp).catch(tolerate(undefined, "ENOENT"));
          throw error;
        }
        // ENOENT: the directory was removed under us (its last segment was just
        // deleted, or the recording erased), or a reader published our
        // temporary file for us (then the target is there).
        if (await stat(join(dir, target)).then(() => true, tolerate(false, "ENOENT"))) break;
        if (attempt >= 5) {
          throw new Error(`hono-replay: could not append segment ${key} of recording ${id}: ${dir} was removed ${attempt} times while writing; is something deleting ${this.root}?`, { cause: error });
        }
      }
    }
    await this.forgetEarlierName(dir, `${id}/${key}`, target);
  }

  /** Records `target` as the key's name and removes the name it was published under before, if another. */
  private async forgetEarlierName(dir: string, slot: string, target: string): Promise<void> {
    const before = this.publishedAs.get(slot);
    this.publishedAs.delete(slot);
    this.publishedAs.set(slot, target);
    if (this.publishedAs.size > 512) this.publishedAs.delete(this.publishedAs.keys().next().value!);
    if (before !== undefined && before !== target) await unlink(join(dir, before)).catch(tolerate(undefined, "ENOENT"));
  }

  /**
   * One recording's published segments, one per key; publishes orphaned
   * temporary files first and removes abandoned ones. A directory that is
   * gone (deleted meanwhile) has none.
   */
  private async scan(id: string): Promise<Map<string, Listed>> {
    const dir = this.dirOf(id);
    const names = await readdir(dir).catch(tolerate([] as string[], "ENOENT", "ENOTDIR"));
    const latest = new Map<string, Listed>();
    const temps: { name: string; parsed: TempName }[] = [];
    for (const name of names) {
      const parsed = parseSegmentName(name);
      if (parsed?.kind === "seg") {
        const seen = latest.get(parsed.key);
        if (!seen || parsed.lastAt > seen.lastAt) latest.set(parsed.key, { key: parsed.key, lastAt: parsed.lastAt, name });
      } else if (parsed?.kind === "tmp") temps.push({ name, parsed });
    }
    for (const { name, parsed } of temps) await this.settleTemp(id, dir, name, parsed, latest);
    return latest;
  }

  /** Publishes an orphaned temporary file (updating `latest`), or removes an abandoned one. */
  private async settleTemp(id: string, dir: string, name: string, parsed: TempName, latest: Map<string, Listed>): Promise<void> {
    const info = await stat(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
    if (!info) return; // renamed into place or removed meanwhile: the listing will show it next time
    const age = Date.now() - info.mtimeMs;
    if (info.size === parsed.bytes && age > ORPHAN_MS) {
      const target = `${parsed.key}.${parsed.at}.seg`;
      const moved = await rename(join(dir, name), join(dir, target)).then(() => true, tolerate(false, "ENOENT"));
      if (!moved) return; // another reader did it
      this.ctx.logger.warn(`published segment ${parsed.key} of recording ${id}, which its writer left in ${name} (it stopped between write and rename)`);
      const older = latest.get(parsed.key);
      // The orphan is its key's last write: it replaces what was published before it.
      if (older && older.name !== target) await unlink(join(dir, older.name)).catch(tolerate(undefined, "ENOENT"));
      latest.set(parsed.key, { key: parsed.key, lastAt: parsed.lastAt, name: target });
    } else if (info.size !== parsed.bytes && age > ABANDONED_MS) {
      await unlink(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      this.ctx.logger.warn(`removed ${join(dir, name)}: ${info.size} of ${parsed.bytes} bytes, its writer died mid-write and those frames never reached the store`);
    }
  }

  async load(recordingId: string): Promise<Segment[]> {
    const id = assertValidId(recordingId);
    const dir = this.dirOf(id);
    const out: Segment[] = [];
    await eachLimited([...(await this.scan(id)).values()], async (listed) => {
      let current: Listed | undefined = listed;
      for (let attempt = 0; current && attempt < 3; attempt++) {
        const text = await readFile(join(dir, current.name), "utf8").catch(tolerate(undefined, "ENOENT"));
        if (text !== undefined) {
          out.push({ recordingId: id, key: current.key, lastAt: current.lastAt, text });
          return;
        }
        // Replaced by a retried append (another lastAt) or deleted: look again.
        current = (await this.scan(id)).get(listed.key);
      }
    });
    return out;
  }

  async list(): Promise<SegmentInfo[]> {
    const ids = (await readdir(this.root).catch(tolerate([] as string[], "ENOENT"))).filter(isValidId);
    const out: SegmentInfo[] = [];
    await eachLimited(ids, async (recordingId) => {
      for (const { key, lastAt } of (await this.scan(recordingId)).values()) out.push({ recordingId, key, lastAt });
    });
    return out;
  }

  async delete(recordingId: string, keys: string[]): Promise<void> {
    const dir = this.dirOf(recordingId);
    const doomed = new Set(keys);
    const names = await readdir(dir).catch(tolerate(undefined, "ENOENT", "ENOTDIR"));
    if (!names) return;
    // Every file of those keys: published, replaced, and temporary ones (an orphan must not come back).
    await eachLimited(names.filter((name) => doomed.has(name.slice(0, name.indexOf(".")))), (name) =>
      unlink(join(dir, name)).catch(tolerate(undefined, "ENOENT")));
    // Fails while anything is left, or an append has just put a temporary file in it.
    this.ctx.dirs.forget(dir);
    await rmdir(dir).catch(tolerate(undefined, "ENOENT", "ENOTEMPTY", "EEXIST"));
  }

  /** Removes a recording's segments; true when it had any. */
  async erase(id: string): Promise<boolean> {
    const dir = this.dirOf(id);
    const names = await readdir(dir).catch(tolerate([] as string[], "ENOENT", "ENOTDIR"));
    this.ctx.dirs.forget(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    return names.some((name) => parseSegmentName(name) !== undefined);
  }
}
