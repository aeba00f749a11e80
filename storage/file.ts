/**
 * The default storage: one compressed file per recording and an index of
 * summaries, so listing never opens a recording; segments of active
 * recordings, appended by every instance that shares the directory; and
 * finalize claims.
 *
 *   <path>/index.json                                   { "<id>": summary, … }      file_index.ts
 *   <path>/index.log                                    changes since, a line each  file_index.ts
 *   <path>/recordings/<id>.hrp                                                      here
 *   <path>/segments/<id>/<key>.<lastAt>.seg             one appended segment        file_segments.ts
 *   <path>/segments/<id>/<key>.<lastAt>.<bytes>.<token>.tmp   being written
 *   <path>/claims/<id>/<generation>                     {"owner","until","nonce"}   file_claims.ts
 *   <path>/erasures/<erasure id>.json                   an erasure mark             file_erasures.ts
 *   <path>/.secret                                      the shared secret           here
 *
 * This module builds one `FileContext` (file_io.ts: the directory, the
 * logger) and hands it to each part; each part's header states its own
 * invariants. Unreadable recording files are file_corrupt.ts's, temporary
 * files left by writers that died are file_temps.ts's.
 *
 * Invariants, and why:
 * - Every write goes to a temporary file that is renamed (or linked) into
 *   place, so a reader (another thread, another process, a crash) sees the old
 *   file or the new one, never half of one — but for index.log, which is only
 *   appended to, synced, and read by whole lines. Recordings and the index are
 *   synced first (`durableWrite`, file_io.ts); segments are not
 *   (file_segments.ts says why).
 * - Index updates take a directory lock, because the worker saves while the
 *   request thread may delete (file_index.ts).
 * - Directories are created 0o700 and segment and claim files 0o600:
 *   recordings hold what users typed.
 * - `delete(id)` removes the recording's segments and claim with it; `clear()`
 *   removes recordings, segments and claims but keeps the erasure marks and
 *   the shared secret.
 * - The persistence worker opens its own handle from `spec`, whose options are
 *   plain data: a `logger` stays with the handle it was given to, and the
 *   worker's handle logs to the console.
 */

import { link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { assertValidId, randomToken, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { FileClaims } from "./file_claims.ts";
import { CorruptFiles } from "./file_corrupt.ts";
import { fileErasures } from "./file_erasures.ts";
import { FileIndex } from "./file_index.ts";
import { durableWrite, type FileContext, KnownDirectories } from "./file_io.ts";
import { FileSegments } from "./file_segments.ts";
import { TempSweep } from "./file_temps.ts";
import { idsToClean, pageSummaries } from "./filter.ts";
import type { CleanupPolicy, RecordingStorage } from "./types.ts";

export { durableWrite } from "./file_io.ts";

export interface FileStorageOptions {
  /** Directory for recordings. Default "replay_recordings" (relative to the working directory). */
  path?: string;
  /**
   * Where the storage reports what it handled without failing (a rebuilt
   * index, a file left out of it, an orphaned segment it published, an
   * abandoned temporary file it removed). Default `consoleLogger`. Not passed
   * to the persistence worker, whose own handle logs to the console.
   */
  logger?: Logger;
}

/** The parts of one file storage, built once by `fileStorage`. */
interface Parts {
  ctx: FileContext;
  index: FileIndex;
  segments: FileSegments;
  claims: FileClaims;
  corrupt: CorruptFiles;
  temps: TempSweep;
}

export function fileStorage(options: FileStorageOptions = {}): RecordingStorage & { readonly path: string } {
  const root = resolve(options.path ?? "replay_recordings");
  const ctx: FileContext = { root, recordings: join(root, "recordings"), logger: options.logger ?? consoleLogger, dirs: new KnownDirectories() };
  const index = new FileIndex(ctx);
  const segments = new FileSegments(ctx);
  const claims = new FileClaims(ctx);
  const temps = new TempSweep(ctx);
  const corrupt = new CorruptFiles(ctx, index);
  const parts: Parts = { ctx, index, segments, claims, corrupt, temps };
  return {
    name: "file",
    path: root,
    journalDir: join(root, ".journal"),
    spec: { module: import.meta.url, export: "fileStorage", options: { path: root } },
    save: (summary, bytes) => save(parts, summary, bytes),
    load: (id) => load(parts, id),
    list: async (filter) => pageSummaries(Object.values(await index.read()), filter),
    delete: (id) => deleteRecording(parts, id),
    clear: () => clear(parts),
    sharedSecret: () => sharedSecret(root),
    cleanup: (policy) => cleanup(parts, policy),
    listCorrupt: () => corrupt.list(),
    appendSegment: (segment) => segments.append(segment),
    loadSegments: (recordingId) => segments.load(recordingId),
    listSegments: async () => {
      await temps.sweepIfDue();
      return segments.list();
    },
    deleteSegments: (recordingId, keys) => segments.delete(recordingId, keys),
    claim: (recordingId, owner, ttlMs) => claims.claim(recordingId, owner, ttlMs),
    release: (recordingId, owner) => claims.release(recordingId, owner),
    ...fileErasures(root, ctx.logger),
  };
}

const fileOf = ({ ctx }: Parts, id: string) => join(ctx.recordings, `${assertValidId(id)}.hrp`);

async function save(parts: Parts, summary: RecordingSummary, bytes: Uint8Array): Promise<void> {
  const target = fileOf(parts, summary.id);
  await parts.ctx.dirs.into(parts.ctx.recordings, () => durableWrite(target, bytes));
  await parts.index.update((index) => {
    index[summary.id] = summary;
  });
}

async function load(parts: Parts, id: string): Promise<Uint8Array> {
  try {
    return await readFile(fileOf(parts, id));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new RecordingNotFoundError(id);
    throw error;
  }
}

async function deleteRecording(parts: Parts, id: string): Promise<boolean> {
  const file = fileOf(parts, id);
  let existed = false;
  await parts.index.update((index) => {
    existed = id in index;
    delete index[id];
  });
  const removed = await rm(file).then(() => true, () => false);
  const hadSegments = await parts.segments.erase(id);
  await rm(parts.claims.dirOf(id), { recursive: true, force: true, maxRetries: 3 });
  return existed || removed || hadSegments;
}

async function clear({ ctx, index, segments, claims }: Parts): Promise<void> {
  await index.withLock(async () => {
    await rm(ctx.recordings, { recursive: true, force: true });
    await rm(segments.directory, { recursive: true, force: true, maxRetries: 3 });
    await rm(claims.directory, { recursive: true, force: true, maxRetries: 3 });
    ctx.dirs.forgetAll();
    await index.write({});
  });
}

/** `<path>/.secret`, created once (exclusively, whole: written aside, then linked in); kept by clear(). */
async function sharedSecret(root: string): Promise<string> {
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
}

async function cleanup(parts: Parts, policy: CleanupPolicy): Promise<string[]> {
  let doomed: string[] = [];
  // The index is rewritten only when something goes (this runs every cleanupIntervalMs on every instance).
  if (idsToClean(Object.values(await parts.index.read()), policy).length) {
    await parts.index.update((index) => {
      doomed = idsToClean(Object.values(index), policy);
      for (const id of doomed) delete index[id];
    });
    await Promise.all(doomed.map((id) => rm(fileOf(parts, id), { force: true })));
  }
  const unindexed = await parts.corrupt.removeUnindexed(policy);
  await parts.temps.sweep();
  return [...doomed, ...unindexed];
}
