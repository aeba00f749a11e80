/**
 * Erasure over any storage: which recordings an erasure mark (types.ts
 * `Erasure`) covers, and removing them from the store.
 *
 * The procedure (`eraseEverywhere`), run by whoever erases — the API
 * (replay/store.ts), or an instance that finds more of what a mark covers:
 *  1. the mark goes into the store first, so that every instance, reading the
 *     marks about once a second (worker/erasure.ts), stops writing what it
 *     covers, takes it out of its memory and journal, and undoes the writes it
 *     made since it last read the marks;
 *  2. this instance does the same at once (`local`);
 *  3. the store is searched and what the mark covers is deleted: finalized
 *     recordings, their index entries, segments of active ones, claims
 *     (`storage.delete`);
 *  4. an erasure by `session()` data also erases, the same way, each session
 *     whose data matched (its `sessionKey`): an instance that served only later
 *     requests of such a session never saw the data, only the session key.
 *
 * Invariant: after step 3 nothing covered is in the store but what an instance
 * wrote before it read the mark, and each instance removes that itself (step 1).
 * Recordings are matched by what their frames say (start frames carry the
 * session key and start time, mounts the session data); nothing here trusts a
 * summary for more than a candidate list.
 */

import { decodeRecordingColumns, FrameKind, parseFrameHeader, type StartMeta } from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import type { Erasure, RecordingStorage, Segment } from "./types.ts";

/** What an erasure is matched against: one recording, with what is known of it here. */
export interface ErasureSubject {
  id: string;
  /** Epoch ms; default: the start time the id carries. */
  startedAt?: number;
  sessionKey?: string;
  /** The `session()` data its mount stored; undefined when the mount is not at hand. */
  session?: unknown;
}

/** What an erasure removed: recording ids, and the sessions they belonged to. */
export interface Erased {
  recordings: string[];
  sessions: string[];
}

/** The start time a recording id carries (format/ids.ts newRecordingId); NaN for an id that carries none. */
function recordingStart(id: string): number {
  return parseInt(id.slice(0, id.indexOf("-")), 36);
}

/** Whether `e` covers the recording. A recording id covers whatever its start; the others, what started by `at`. */
export function covers(e: Erasure, s: ErasureSubject): boolean {
  if (e.recordingId !== undefined) return e.recordingId === s.id;
  if (!((s.startedAt ?? recordingStart(s.id)) <= e.at)) return false;
  if (e.sessionKey !== undefined && e.sessionKey !== s.sessionKey) return false;
  return e.session === undefined || fieldsMatch(e.session, s.session);
}

/** `want`'s fields are in `have`: primitives compared as strings (a user id stored as 42 or "42"), objects field by field. */
function fieldsMatch(want: unknown, have: unknown): boolean {
  if (want !== null && typeof want === "object") {
    if (have === null || typeof have !== "object") return false;
    return Object.entries(want).every(([key, value]) => fieldsMatch(value, (have as Record<string, unknown>)[key]));
  }
  if (have === null || want === null || typeof have === "object" || have === undefined) return have === want;
  return String(have) === String(want);
}

/** The session data of a mount frame's payload (`[url, params, session, assigns, hash?]`); undefined if it is not one. */
export function mountSession(payload: string): unknown {
  try {
    const parsed = JSON.parse(payload) as unknown[];
    return Array.isArray(parsed) ? parsed[2] : undefined;
  } catch {
    return undefined; // not a mount payload: nothing to match, as for a recording whose mount is not at hand
  }
}

/** A start frame's meta; undefined for a damaged one (the recording is then matched by its id alone). */
export function startMeta(payload: string): StartMeta | undefined {
  try {
    const meta = JSON.parse(payload) as StartMeta;
    return meta && typeof meta === "object" ? meta : undefined;
  } catch {
    return undefined; // damaged: see the doc
  }
}

/** The mark of one session found by an erasure by session data: the same time bounds, a deterministic id. */
export function sessionErasure(e: Erasure, sessionKey: string): Erasure {
  return { id: `${e.id}-${sessionKey}`.slice(0, 100), at: e.at, until: e.until, sessionKey };
}

/** The subject of a recording from its frames: the first start frame, and the mount's session data. */
export function subjectOfFrames(id: string, lines: Iterable<string>): ErasureSubject {
  const subject: ErasureSubject = { id };
  for (const line of lines) {
    const h = parseFrameHeader(line);
    if (!h || h.id !== id) continue;
    if (h.kind === FrameKind.start && subject.sessionKey === undefined) {
      const meta = startMeta(line.slice(h.payloadAt));
      subject.sessionKey = meta?.sessionKey;
      subject.startedAt = meta?.startedAt;
    } else if (h.kind === FrameKind.mount && subject.session === undefined) {
      subject.session = mountSession(line.slice(h.payloadAt));
    }
  }
  return subject;
}

/** Step 3: deletes from the store what `e` covers; a recording it cannot read to match is kept, and said to `logger`. */
async function purgeStore(storage: RecordingStorage, e: Erasure, logger: Logger = consoleLogger): Promise<Erased> {
  const recordings = new Set<string>();
  const sessions = new Set<string>();
  const erase = async (s: ErasureSubject) => {
    if (!covers(e, s)) return;
    await storage.delete(s.id);
    recordings.add(s.id);
    if (s.sessionKey) sessions.add(s.sessionKey);
  };
  if (e.recordingId !== undefined) {
    return { recordings: (await storage.delete(e.recordingId)) ? [e.recordingId] : [], sessions: [] };
  }
  for (const summary of (await storage.list({ sessionKey: e.sessionKey, to: e.at + 1 })).items) {
    const subject: ErasureSubject = { id: summary.id, startedAt: summary.startedAt, sessionKey: summary.sessionKey };
    if (e.session !== undefined) subject.session = await storedSession(storage, summary.id, logger);
    await erase(subject);
  }
  const active = new Set((await storage.listSegments()).map((s) => s.recordingId));
  for (const id of active) {
    if (recordings.has(id)) continue;
    await erase(subjectOfFrames(id, linesOf(await storage.loadSegments(id))));
  }
  return { recordings: [...recordings], sessions: [...sessions] };
}

function* linesOf(segments: Segment[]): Generator<string> {
  for (const segment of segments) yield* segment.text.split("\n");
}

/** The session data of a finalized recording's mount; undefined (and said) when it has none or cannot be read. */
async function storedSession(storage: RecordingStorage, id: string, logger: Logger): Promise<unknown> {
  try {
    const { columns } = decodeRecordingColumns(id, await storage.load(id));
    const at = columns.kinds.indexOf(FrameKind.mount);
    return at < 0 ? undefined : mountSession(columns.payloads[at]);
  } catch (error) {
    logger.warn(`erasure could not read recording ${id} to match its session data (${(error as Error).message}); it is kept: delete it by id if it is the user's`);
    return undefined;
  }
}

/**
 * The whole procedure for one mark (see the module's doc); `local` is this
 * instance's own part (step 2), `purge` the store's (step 3: clearAll clears
 * instead; default `purgeStore`, warning to `logger`). Returns everything it
 * removed, the sessions found by session data included.
 */
export async function eraseEverywhere(
  storage: RecordingStorage,
  e: Erasure,
  local: (e: Erasure) => Promise<Erased>,
  purge?: (storage: RecordingStorage, e: Erasure) => Promise<Erased>,
  logger: Logger = consoleLogger,
): Promise<Erased> {
  await storage.addErasure(e);
  const here = await local(e);
  const purgeWith = purge ?? ((s: RecordingStorage, mark: Erasure) => purgeStore(s, mark, logger));
  const stored = await purgeWith(storage, e);
  const recordings = new Set([...here.recordings, ...stored.recordings]);
  const sessions = new Set([...here.sessions, ...stored.sessions]);
  if (e.session !== undefined) {
    for (const key of [...sessions]) {
      const more = await eraseEverywhere(storage, sessionErasure(e, key), local, undefined, logger);
      for (const id of more.recordings) recordings.add(id);
    }
  }
  return { recordings: [...recordings], sessions: [...sessions] };
}
