/**
 * The default storage: one compressed file per recording and an index of
 * summaries, so listing never opens a recording; segments of active
 * recordings, appended by every instance that shares the directory; and
 * finalize claims.
 *
 *   <path>/index.json                                   { "<id>": summary, … }
 *   <path>/recordings/<id>.hrp
 *   <path>/segments/<id>/<key>.<lastAt>.seg             one appended segment
 *   <path>/segments/<id>/<key>.<lastAt>.<bytes>.<token>.tmp   being written
 *   <path>/claims/<id>/<generation>                     {"owner","until","nonce"}
 *   <path>/erasures/<erasure id>.json                   an erasure mark (file_erasures.ts)
 *
 * Every write goes to a temporary file that is renamed into place, so a reader
 * (another thread, another process, a crash) sees the old file or the new one,
 * never half of one. Index updates take a directory lock, because the worker
 * saves while the request thread may delete.
 *
 * Segments (written about once a second per recording, by several processes,
 * possibly in different PID namespaces, sharing the directory):
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
 *
 * Claims (the lease to finalize a recording) are a sequence of generation
 * files, each created exclusively (link(2) of a complete temporary file, so
 * it appears whole or not at all). The highest generation is the claim. To
 * claim, an instance reads the highest generation g; if another owner holds it
 * unexpired, it loses; otherwise it creates g+1. Of instances racing from the
 * same g only one creates g+1. The winner then checks that g+1 is still the
 * highest and g is still there with the content it read: a creation based on a
 * stale view (g pruned or released meanwhile) fails that check, removes its
 * file and looks again. So exactly one of racers wins, renewal (the owner
 * creating g+1) races takeover fairly, and nothing relies on a process id.
 * Older generations are pruned by the winner; release removes all of them and
 * the directory.
 *
 * Directories are created 0o700 and segment and claim files 0o600: recordings
 * hold what users typed.
 *
 * Corrupt and abandoned files (a full disk, a process killed mid-write, a file
 * damaged by hand):
 *  - A recording file that cannot be read is listed by `listCorrupt`, with the
 *    reason: one a rebuilt index left out, and one whose size differs from
 *    what the index says was saved (truncated, emptied). Sizes are compared
 *    first, so listing opens only the files that fail that check, and each
 *    of those once per change. `delete` removes it; `cleanup` removes files
 *    the index does not list once older than maxAgeMs (by modification time:
 *    they have no summary to date them by).
 *  - A durable write's temporary file (`<target>.tmp-<token>`) lives for the
 *    milliseconds of one write; one older than ABANDONED_MS was left by a
 *    process that died mid-write, and is removed by `cleanup` and by the store
 *    sweep's `listSegments` (at most once per ABANDONED_MS), loudly.
 */

import { link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import {
  assertValidId,
  decodeRecordingFile,
  isValidId,
  randomToken,
  RecordingNotFoundError,
  type RecordingSummary,
} from "../format/mod.ts";
import { fileErasures } from "./file_erasures.ts";
import { idsToClean, pageSummaries } from "./filter.ts";
import type { CleanupPolicy, CorruptRecording, RecordingStorage, Segment, SegmentInfo, SummaryFilter, SummaryPage } from "./types.ts";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/**
 * A complete temporary segment this old is an orphan: its writer stopped
 * between write and rename (a live writer renames within milliseconds; should
 * a stalled one be overtaken, the reader does the very rename it would have).
 */
const ORPHAN_MS = 5_000;
/** An incomplete temporary file (segment or claim) this old belongs to a writer that died mid-write. */
const ABANDONED_MS = 60_000;
/** Claim rounds before giving up; each lost one to another instance changing the claim. */
const CLAIM_ATTEMPTS = 50;
/** Files read or removed at once: a recording can have thousands of segments, and a process a limit on open files. */
const PARALLEL = 32;
/** A durable write's temporary file: `<target>.tmp-<token>` (recordings, the index), `.secret.<token>.tmp`. */
const DURABLE_TEMP = /(\.tmp-[A-Za-z0-9]+|^\.secret\.[A-Za-z0-9]+\.tmp)$/;

const encoder = new TextEncoder();

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * A rejection handler: the named errno codes (an expected race, such as a
 * file another process just removed) become `value`; anything else rethrows.
 */
function tolerate<T>(value: T, ...codes: string[]): (error: unknown) => T {
  return (error) => {
    if (codes.includes(errnoOf(error) ?? "")) return value;
    throw error;
  };
}

async function eachLimited<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, lane));
}

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

type SegmentName =
  | { kind: "seg"; key: string; lastAt: number }
  | { kind: "tmp"; key: string; lastAt: number; at: string; bytes: number };

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

interface Claim {
  owner: string;
  until: number;
}

export interface FileStorageOptions {
  /** Directory for recordings. Default "replay_recordings" (relative to the working directory). */
  path?: string;
}

type Index = Record<string, RecordingSummary>;

export function fileStorage(options: FileStorageOptions = {}): RecordingStorage & { readonly path: string } {
  const root = resolve(options.path ?? "replay_recordings");
  const dir = join(root, "recordings");
  const indexPath = join(root, "index.json");
  const lockPath = join(root, ".lock");
  let cache: { mtimeMs: number; size: number; index: Index } | undefined;

  const fileOf = (id: string) => join(dir, `${assertValidId(id)}.hrp`);

  async function ensureDirs() {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  }

  // ─── Segments ──────────────────────────────────────────────────────────────

  const segmentsRoot = join(root, "segments");
  const segmentDirOf = (id: string) => join(segmentsRoot, assertValidId(id));
  /** Appends in flight in this handle, by "<id>/<key>": a retry waits for its original. */
  const appending = new Map<string, Promise<void>>();
  /**
   * The name each recently appended key was published under, so that a retry
   * with another lastAt removes the earlier file without listing the directory
   * (which holds a file per second of the recording). Retries follow their
   * failure closely, so the latest few hundred keys are enough.
   */
  const publishedAs = new Map<string, string>();

  function appendSegment(segment: Segment): Promise<void> {
    const id = assertValidId(segment.recordingId);
    const key = assertValidKey(segment.key);
    const at = encodeLastAt(segment.lastAt);
    const slot = `${id}/${key}`;
    const previous = appending.get(slot) ?? Promise.resolve();
    const done = previous.then(() => writeSegment(id, key, at, encoder.encode(segment.text)));
    // The caller gets done's outcome; the chain only needs the order, so it never rejects.
    const settled = done.then(() => {}, () => {});
    appending.set(slot, settled);
    void settled.then(() => {
      if (appending.get(slot) === settled) appending.delete(slot);
    });
    return done;
  }

  async function writeSegment(id: string, key: string, at: string, bytes: Uint8Array): Promise<void> {
    const dir = segmentDirOf(id);
    const target = `${key}.${at}.seg`;
    for (let attempt = 1; ; attempt++) {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
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
          throw new Error(`hono-replay: could not append segment ${key} of recording ${id}: ${dir} was removed ${attempt} times while writing; is something deleting ${segmentsRoot}?`, { cause: error });
        }
      }
    }
    const slot = `${id}/${key}`;
    const before = publishedAs.get(slot);
    publishedAs.delete(slot);
    publishedAs.set(slot, target);
    if (publishedAs.size > 512) publishedAs.delete(publishedAs.keys().next().value!);
    if (before !== undefined && before !== target) await unlink(join(dir, before)).catch(tolerate(undefined, "ENOENT"));
  }

  /**
   * One recording's published segments, one per key; publishes orphaned
   * temporary files first and removes abandoned ones. A directory that is
   * gone (deleted meanwhile) has none.
   */
  async function scanRecording(id: string): Promise<Map<string, Listed>> {
    const dir = segmentDirOf(id);
    const names = await readdir(dir).catch(tolerate([] as string[], "ENOENT", "ENOTDIR"));
    const latest = new Map<string, Listed>();
    const add = (listed: Listed) => {
      const seen = latest.get(listed.key);
      if (!seen || listed.lastAt > seen.lastAt) latest.set(listed.key, listed);
    };
    const temps: { name: string; parsed: Extract<SegmentName, { kind: "tmp" }> }[] = [];
    for (const name of names) {
      const parsed = parseSegmentName(name);
      if (parsed?.kind === "seg") add({ key: parsed.key, lastAt: parsed.lastAt, name });
      else if (parsed?.kind === "tmp") temps.push({ name, parsed });
    }
    for (const { name, parsed } of temps) {
      const info = await stat(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      if (!info) continue; // renamed into place or removed meanwhile: the listing will show it next time
      const age = Date.now() - info.mtimeMs;
      if (info.size === parsed.bytes && age > ORPHAN_MS) {
        const target = `${parsed.key}.${parsed.at}.seg`;
        const moved = await rename(join(dir, name), join(dir, target)).then(() => true, tolerate(false, "ENOENT"));
        if (!moved) continue; // another reader did it
        console.warn(`hono-replay: published segment ${parsed.key} of recording ${id}, which its writer left in ${name} (it stopped between write and rename)`);
        const older = latest.get(parsed.key);
        // The orphan is its key's last write: it replaces what was published before it.
        if (older && older.name !== target) await unlink(join(dir, older.name)).catch(tolerate(undefined, "ENOENT"));
        latest.set(parsed.key, { key: parsed.key, lastAt: parsed.lastAt, name: target });
      } else if (info.size !== parsed.bytes && age > ABANDONED_MS) {
        await unlink(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
        console.warn(`hono-replay: removed ${join(dir, name)}: ${info.size} of ${parsed.bytes} bytes, its writer died mid-write and those frames never reached the store`);
      }
    }
    return latest;
  }

  async function loadSegments(recordingId: string): Promise<Segment[]> {
    const id = assertValidId(recordingId);
    const dir = segmentDirOf(id);
    const out: Segment[] = [];
    await eachLimited([...(await scanRecording(id)).values()], async (listed) => {
      let current: Listed | undefined = listed;
      for (let attempt = 0; current && attempt < 3; attempt++) {
        const text = await readFile(join(dir, current.name), "utf8").catch(tolerate(undefined, "ENOENT"));
        if (text !== undefined) {
          out.push({ recordingId: id, key: current.key, lastAt: current.lastAt, text });
          return;
        }
        // Replaced by a retried append (another lastAt) or deleted: look again.
        current = (await scanRecording(id)).get(listed.key);
      }
    });
    return out;
  }

  async function listSegments(): Promise<SegmentInfo[]> {
    // The store sweep comes here every idle/4 (at most a minute): it is the storage's maintenance pass.
    if (Date.now() - lastTempSweep > ABANDONED_MS) await sweepTemps();
    const ids = (await readdir(segmentsRoot).catch(tolerate([] as string[], "ENOENT"))).filter(isValidId);
    const out: SegmentInfo[] = [];
    await eachLimited(ids, async (recordingId) => {
      for (const { key, lastAt } of (await scanRecording(recordingId)).values()) out.push({ recordingId, key, lastAt });
    });
    return out;
  }

  async function deleteSegments(recordingId: string, keys: string[]): Promise<void> {
    const dir = segmentDirOf(recordingId);
    const doomed = new Set(keys);
    const names = await readdir(dir).catch(tolerate(undefined, "ENOENT", "ENOTDIR"));
    if (!names) return;
    // Every file of those keys: published, replaced, and temporary ones (an orphan must not come back).
    await eachLimited(names.filter((name) => doomed.has(name.slice(0, name.indexOf(".")))), (name) =>
      unlink(join(dir, name)).catch(tolerate(undefined, "ENOENT")));
    // Fails while anything is left, or an append has just put a temporary file in it.
    await rmdir(dir).catch(tolerate(undefined, "ENOENT", "ENOTEMPTY", "EEXIST"));
  }

  /** Removes a recording's segments; true when it had any. */
  async function eraseSegments(id: string): Promise<boolean> {
    const dir = segmentDirOf(id);
    const names = await readdir(dir).catch(tolerate([] as string[], "ENOENT", "ENOTDIR"));
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    return names.some((name) => parseSegmentName(name) !== undefined);
  }

  // ─── Corrupt and abandoned files ─────────────────────────────────────────

  /** What decoding found of recording files that failed the size check, by name and version. */
  const verdicts = new Map<string, { mtimeMs: number; size: number; reason?: string }>();
  let lastTempSweep = 0;

  /** Recording files that cannot be read, newest first. */
  async function listCorrupt(): Promise<CorruptRecording[]> {
    const index = await readIndex();
    const out: CorruptRecording[] = [];
    await eachLimited(await recordingNames(), async (name) => {
      const id = name.slice(0, -4);
      const info = await stat(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      // As saved: the size the index has for it (every save records the file's size).
      if (!info || index[id]?.sizeBytes === info.size) return;
      const reason = await verdict(name, info);
      if (reason) out.push({ id, reason, sizeBytes: info.size, modifiedAt: info.mtimeMs });
    });
    return out.sort((a, b) => b.modifiedAt - a.modifiedAt || (a.id < b.id ? -1 : 1));
  }

  async function recordingNames(): Promise<string[]> {
    const names = await readdir(dir).catch(tolerate([] as string[], "ENOENT"));
    return names.filter((name) => name.endsWith(".hrp") && isValidId(name.slice(0, -4)));
  }

  /** Why a recording file cannot be read, or undefined when it can (or is gone); decoded once per version. */
  async function verdict(name: string, info: { mtimeMs: number; size: number }): Promise<string | undefined> {
    const known = verdicts.get(name);
    if (known?.mtimeMs === info.mtimeMs && known.size === info.size) return known.reason;
    const bytes = await readFile(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
    if (!bytes) return undefined;
    let reason: string | undefined;
    try {
      decodeRecordingFile(name.slice(0, -4), bytes);
    } catch (error) {
      reason = (error as Error).message;
    }
    verdicts.set(name, { mtimeMs: info.mtimeMs, size: info.size, reason });
    if (verdicts.size > 1_000) verdicts.delete(verdicts.keys().next().value!);
    return reason;
  }

  /** Recording files the index does not list (corrupt ones a rebuild left out), older than maxAgeMs. */
  async function removeUnindexed(policy: CleanupPolicy): Promise<string[]> {
    const index = await readIndex();
    const cutoff = (policy.now ?? Date.now()) - policy.maxAgeMs;
    const removed: string[] = [];
    await eachLimited((await recordingNames()).filter((name) => !Object.hasOwn(index, name.slice(0, -4))), async (name) => {
      const info = await stat(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      if (!info || info.mtimeMs >= cutoff) return;
      await unlink(join(dir, name)).catch(tolerate(undefined, "ENOENT"));
      removed.push(name.slice(0, -4));
    });
    return removed;
  }

  /** Removes temporary files of durable writes whose writer died (older than ABANDONED_MS). */
  async function sweepTemps(): Promise<void> {
    lastTempSweep = Date.now();
    const abandoned: string[] = [];
    for (const where of [dir, root]) {
      const names = (await readdir(where).catch(tolerate([] as string[], "ENOENT"))).filter((name) => DURABLE_TEMP.test(name));
      await eachLimited(names, async (name) => {
        const info = await stat(join(where, name)).catch(tolerate(undefined, "ENOENT"));
        if (!info || Date.now() - info.mtimeMs < ABANDONED_MS) return;
        await unlink(join(where, name)).catch(tolerate(undefined, "ENOENT"));
        abandoned.push(name);
      });
    }
    if (abandoned.length) {
      console.warn(`hono-replay: removed ${abandoned.length} temporary file(s) that writers which died mid-write left in ${root} (${abandoned.slice(0, 3).join(", ")}${abandoned.length > 3 ? ", …" : ""})`);
    }
  }

  // ─── Claims ────────────────────────────────────────────────────────────────

  const claimsRoot = join(root, "claims");
  const claimDirOf = (id: string) => join(claimsRoot, assertValidId(id));

  /** The generations of one recording's claim, lowest first. */
  async function generations(claimDir: string): Promise<number[]> {
    const names = await readdir(claimDir).catch(tolerate([] as string[], "ENOENT", "ENOTDIR"));
    return names.filter((name) => /^\d{1,15}$/.test(name)).map(Number).sort((a, b) => a - b);
  }

  const readGeneration = (claimDir: string, generation: number) =>
    readFile(join(claimDir, String(generation)), "utf8").catch(tolerate(undefined, "ENOENT"));

  function parseClaim(text: string, where: string): Claim {
    let problem = "no owner and until";
    try {
      const { owner, until } = JSON.parse(text) ?? {};
      if (typeof owner === "string" && typeof until === "number") return { owner, until };
    } catch (error) {
      problem = (error as Error).message;
    }
    console.warn(`hono-replay: ${where} is not a claim (${problem}); treating it as expired`);
    return { owner: "", until: 0 };
  }

  /** Creates generation `generation` whole, or not at all; false when it exists (or the directory was just released). */
  async function createGeneration(claimDir: string, generation: number, content: string): Promise<boolean> {
    await mkdir(claimDir, { recursive: true, mode: DIR_MODE });
    const temp = join(claimDir, `.tmp-${randomToken(8)}`);
    const written = await writeFile(temp, content, { flag: "wx", mode: FILE_MODE }).then(() => true, tolerate(false, "ENOENT"));
    if (!written) return false; // a release removed the directory after our mkdir: look again
    try {
      await link(temp, join(claimDir, String(generation)));
      return true;
    } catch (error) {
      if (errnoOf(error) === "EEXIST") return false;
      throw new Error(
        `hono-replay: could not create the claim ${join(claimDir, String(generation))} (${(error as Error).message}); claims need hard links: keep the storage directory on a local filesystem or a volume that supports link(2) (ext4, xfs, btrfs, NFS)`,
        { cause: error },
      );
    } finally {
      await unlink(temp).catch(tolerate(undefined, "ENOENT"));
    }
  }

  /** Removes the generations below the claim, and temporary files their creators left by dying. */
  async function pruneClaim(claimDir: string, below: number) {
    const names = await readdir(claimDir).catch(tolerate([] as string[], "ENOENT"));
    for (const name of names) {
      if (/^\d{1,15}$/.test(name) ? Number(name) < below : name.startsWith(".tmp-") && (await isAbandoned(join(claimDir, name)))) {
        await unlink(join(claimDir, name)).catch(tolerate(undefined, "ENOENT"));
      }
    }
  }

  const isAbandoned = (path: string) => stat(path).then((info) => Date.now() - info.mtimeMs > ABANDONED_MS, tolerate(false, "ENOENT"));

  async function claim(recordingId: string, owner: string, ttlMs: number): Promise<boolean> {
    const claimDir = claimDirOf(recordingId);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      // Lost rounds mean others are changing this claim right now: let them finish.
      if (attempt >= 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 * attempt, 50)));
      const before = await generations(claimDir);
      const top = before.at(-1) ?? 0;
      let base: string | undefined;
      if (top > 0) {
        base = await readGeneration(claimDir, top);
        if (base === undefined) continue; // pruned or released meanwhile
        const held = parseClaim(base, join(claimDir, String(top)));
        if (held.owner !== owner && held.until > Date.now()) return false;
      }
      const mine = top + 1;
      if (!(await createGeneration(claimDir, mine, JSON.stringify({ owner, until: Date.now() + ttlMs, nonce: randomToken(12) })))) continue;
      // Won `mine`, but on what we read: it must still be the highest, and
      // what we read must still be there unchanged (not pruned by a later
      // winner, not released and then recreated).
      const after = await generations(claimDir);
      if (after.at(-1) === mine && (top === 0 || (await readGeneration(claimDir, top)) === base)) {
        if (after.length > 1) await pruneClaim(claimDir, mine);
        return true;
      }
      await unlink(join(claimDir, String(mine))).catch(tolerate(undefined, "ENOENT"));
    }
    console.warn(`hono-replay: gave up claiming ${recordingId} for ${owner} after ${CLAIM_ATTEMPTS} rounds lost to other instances; it stays with whoever holds it`);
    return false;
  }

  async function release(recordingId: string, owner: string): Promise<void> {
    const claimDir = claimDirOf(recordingId);
    const gens = await generations(claimDir);
    const top = gens.at(-1);
    if (top === undefined) return;
    const text = await readGeneration(claimDir, top);
    if (text === undefined || parseClaim(text, join(claimDir, String(top))).owner !== owner) return;
    // Lowest first, the claim itself last; then the directory, unless a
    // claimer is creating the next generation in it right now.
    for (const generation of gens) await unlink(join(claimDir, String(generation))).catch(tolerate(undefined, "ENOENT"));
    await pruneClaim(claimDir, 0);
    await rmdir(claimDir).catch(tolerate(undefined, "ENOENT", "ENOTEMPTY", "EEXIST"));
  }

  /**
   * The index, from cache when index.json has not changed. A missing or
   * unreadable index is rebuilt from the recordings; `locked` says the caller
   * already holds the lock (the rebuild must not take it again).
   */
  async function readIndex(locked = false): Promise<Index> {
    let info;
    try {
      info = await stat(indexPath);
    } catch {
      return rebuild(locked, false);
    }
    if (cache && cache.mtimeMs === info.mtimeMs && cache.size === info.size) return cache.index;
    try {
      const index = JSON.parse(await readFile(indexPath, "utf8")) as Index;
      if (!index || typeof index !== "object" || Array.isArray(index)) throw new Error("not an object");
      cache = { mtimeMs: info.mtimeMs, size: info.size, index };
      return index;
    } catch (error) {
      console.warn(`hono-replay: ${indexPath} is unreadable (${(error as Error).message}); rebuilding it from the recordings`);
      return rebuild(locked, true);
    }
  }

  async function rebuild(locked: boolean, indexExists: boolean): Promise<Index> {
    if (!indexExists) {
      const names = await readdir(dir).catch(() => [] as string[]);
      if (!names.some((n) => n.endsWith(".hrp"))) return {};
    }
    const work = async () => {
      const index = await scanRecordings();
      await writeIndex(index);
      return index;
    };
    return locked ? work() : withLock(work);
  }

  /** Reads every recording's metadata: only when the index is lost. Corrupt files are left out, loudly. */
  async function scanRecordings(): Promise<Index> {
    const index: Index = {};
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch { /* no recordings yet */ }
    for (const name of names) {
      if (!name.endsWith(".hrp")) continue;
      const id = name.slice(0, -4);
      try {
        const { events: _events, ...summary } = decodeRecordingFile(id, await readFile(join(dir, name)));
        index[id] = summary;
      } catch (error) {
        console.warn(`hono-replay: left out of the index: ${(error as Error).message}`);
      }
    }
    return index;
  }

  async function writeIndex(index: Index) {
    await durableWrite(indexPath, JSON.stringify(index));
    // What was just written is the index: the next update or listing need not read
    // and parse it again (it would, if another thread or process changed the file).
    const info = await stat(indexPath).catch(() => undefined);
    cache = info && { mtimeMs: info.mtimeMs, size: info.size, index };
  }

  async function withLock<T>(work: () => Promise<T>): Promise<T> {
    await mkdir(root, { recursive: true, mode: DIR_MODE });
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(lockPath);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        // A holder that died leaves the lock behind; no update takes 10 s.
        const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > 10_000) await rmdir(lockPath).catch(() => {});
        if (Date.now() - started > 30_000) throw new Error(`hono-replay: could not lock ${lockPath}`);
        await new Promise((r) => setTimeout(r, Math.min(2 + attempt, 25)));
      }
    }
    try {
      return await work();
    } finally {
      await rmdir(lockPath).catch(() => {});
    }
  }

  /**
   * Index changes are group-committed: while one write of the index is under way,
   * the changes that arrive queue up and go out together in the next, so fifty
   * recordings finalized at once cost two index writes, not fifty locked ones.
   */
  type Change = { change: (index: Index) => void; done: () => void; failed: (error: unknown) => void };
  let queued: Change[] = [];
  let committing: Promise<void> | undefined;

  function updateIndex(change: (index: Index) => void): Promise<void> {
    return new Promise((done, failed) => {
      queued.push({ change, done, failed });
      committing ??= commitQueued().finally(() => (committing = undefined));
    });
  }

  async function commitQueued() {
    while (queued.length) {
      const batch = queued;
      queued = [];
      try {
        await withLock(async () => {
          const index = { ...(await readIndex(true)) };
          for (const { change } of batch) change(index);
          await writeIndex(index);
        });
        for (const { done } of batch) done();
      } catch (error) {
        for (const { failed } of batch) failed(error);
      }
    }
  }

  return {
    name: "file",
    path: root,
    journalDir: join(root, ".journal"),
    spec: { module: import.meta.url, export: "fileStorage", options: { path: root } },

    async save(summary, bytes) {
      const target = fileOf(summary.id);
      await ensureDirs();
      await durableWrite(target, bytes);
      await updateIndex((index) => {
        index[summary.id] = summary;
      });
    },

    async load(id) {
      try {
        return await readFile(fileOf(id));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new RecordingNotFoundError(id);
        throw error;
      }
    },

    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      return pageSummaries(Object.values(await readIndex()), filter);
    },

    async delete(id) {
      const file = fileOf(id);
      let existed = false;
      await updateIndex((index) => {
        existed = id in index;
        delete index[id];
      });
      const removed = await rm(file).then(() => true, () => false);
      const hadSegments = await eraseSegments(id);
      await rm(claimDirOf(id), { recursive: true, force: true, maxRetries: 3 });
      return existed || removed || hadSegments;
    },

    async clear() {
      await withLock(async () => {
        await rm(dir, { recursive: true, force: true });
        await rm(segmentsRoot, { recursive: true, force: true, maxRetries: 3 });
        await rm(claimsRoot, { recursive: true, force: true, maxRetries: 3 });
        await writeIndex({});
      });
    },

    /** `<path>/.secret`, created once (exclusively, whole: written aside, then linked in); kept by clear(). */
    async sharedSecret() {
      const path = join(root, ".secret");
      const read = async () => (await readFile(path, "utf8")).trim();
      try {
        return await read();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      await mkdir(root, { recursive: true, mode: 0o700 });
      const aside = `${path}.${randomToken(8)}.tmp`;
      await writeFile(aside, randomToken(43), { mode: 0o600 });
      try {
        await link(aside, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error; // another instance made it first
      } finally {
        await rm(aside, { force: true });
      }
      return read();
    },

    async cleanup(policy: CleanupPolicy) {
      let doomed: string[] = [];
      // The index is rewritten only when something goes (this runs every cleanupIntervalMs on every instance).
      if (idsToClean(Object.values(await readIndex()), policy).length) {
        await updateIndex((index) => {
          doomed = idsToClean(Object.values(index), policy);
          for (const id of doomed) delete index[id];
        });
        await Promise.all(doomed.map((id) => rm(fileOf(id), { force: true })));
      }
      const unindexed = await removeUnindexed(policy);
      await sweepTemps();
      return [...doomed, ...unindexed];
    },

    listCorrupt,

    appendSegment,
    loadSegments,
    listSegments,
    deleteSegments,
    claim,
    release,
    ...fileErasures(root),
  };
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

