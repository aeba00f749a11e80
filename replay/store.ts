/**
 * The programmatic API over stored and active recordings. Ids are checked here,
 * before any backend sees them.
 *
 * An active recording lives in the store as segments, written by every
 * instance that served its session; it is read by merging them
 * (format/segments.ts), so every instance sees it whole. A finalized recording
 * that received segments since (its session came back) is read with them.
 * Before reading active recordings this instance writes its own unsent frames,
 * so what it recorded itself is never missing; other instances' frames are at
 * most a segment (about a second) behind.
 *
 * Deleting is erasing (storage/erasure.ts): `deleteRecording`, `clearAll`,
 * `eraseSession` and `eraseWhere` leave a mark in the store that every
 * instance applies within about a second, remove what this instance holds at
 * once, then search the store. A mark lasts `maxRecordingAgeMs` (at least a
 * day), so what it covers cannot come back while cleanup would not remove it.
 */

import {
  assembleSegments,
  assertValidId,
  isValidId,
  randomToken,
  ReplayError,
  decodeRecordingColumns,
  decodeRecordingFile,
  type Recording,
  recordingFromText,
  RecordingNotFoundError,
  type RecordingSummary,
  recordingText,
} from "../format/mod.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { type Erased, eraseEverywhere } from "../storage/erasure.ts";
import type { CorruptRecording, Erasure, RecordingStorage, Segment, SummaryFilter, SummaryPage } from "../storage/mod.ts";
import type { EngineHost } from "../worker/mod.ts";

export interface CleanupSettings {
  maxRecordings: number;
  maxRecordingAgeMs: number;
}

/** What an erasure removed. */
export interface ErasureReport {
  /** The mark it left in the store: every instance applies it within about a second; kept until `erasure.until`. */
  erasure: Erasure;
  /** Recordings removed, finalized or active: from the store, or from this instance's memory and journal. */
  recordings: string[];
  /** The sessions (`RecordingSummary.sessionKey`) those recordings belonged to. */
  sessions: string[];
}

/** What a ReplayStore may be given besides its storage: `new ReplayStore(storage, host, cleanup, { logger })`. */
export interface ReplayStoreOptions {
  /** Where handled errors go (a corrupt recording skipped by `listRecordings`). Default: `consoleLogger`. */
  logger?: Logger;
}

const DAY = 86_400_000;
/** The longest a mark is kept, whatever `maxRecordingAgeMs` says (it may be Infinity). */
const MAX_MARK_MS = 3_650 * DAY;
const NOTHING: Erased = { recordings: [], sessions: [] };

export class ReplayStore {
  /** Where this store reports what it skips; the dashboard reports through it too unless given its own. */
  readonly logger: Logger;

  constructor(
    readonly storage: RecordingStorage,
    private readonly host: () => Promise<EngineHost>,
    private readonly cleanupSettings: CleanupSettings,
    options: ReplayStoreOptions = {},
  ) {
    this.logger = options.logger ?? consoleLogger;
  }

  /** Finalized recordings' summaries, newest first unless `sort`/`order` say otherwise. */
  async listRecordingSummaries(filter: Omit<SummaryFilter, "limit" | "cursor"> = {}): Promise<RecordingSummary[]> {
    return (await this.storage.list(filter)).items;
  }

  /** One page of summaries; pass `nextCursor` back as `cursor` for the next. */
  pageRecordingSummaries(filter: SummaryFilter): Promise<SummaryPage> {
    return this.storage.list(filter);
  }

  /** Every finalized recording matching the filter, events included. A corrupt one is skipped with a warning. */
  async listRecordings(filter: Omit<SummaryFilter, "limit" | "cursor"> = {}): Promise<Recording[]> {
    const out: Recording[] = [];
    for (const summary of await this.listRecordingSummaries(filter)) {
      try {
        out.push(await this.getRecording(summary.id));
      } catch (error) {
        this.logger.warn((error as Error).message);
      }
    }
    return out;
  }

  /**
   * A recording, finalized or still active (merged from its segments).
   * Throws InvalidIdError, RecordingNotFoundError or CorruptRecordingError.
   */
  async getRecording(id: string): Promise<Recording> {
    assertValidId(id);
    const [bytes, segments] = await Promise.all([this.loadBytes(id), this.storage.loadSegments(id)]);
    if (bytes && segments.length === 0) return decodeRecordingFile(id, bytes);
    const merged = this.merge(id, segments, bytes);
    if (!merged) throw new RecordingNotFoundError(id);
    return merged;
  }

  /**
   * A finalized recording's stored file, byte for byte as the storage has it
   * (what the dashboard's download serves; a corrupt file too). Frames its
   * session sent after it was finalized are in its segments, not in this file:
   * `getRecording` merges them. Throws InvalidIdError or RecordingNotFoundError.
   */
  async getRecordingFile(id: string): Promise<Uint8Array> {
    return await this.storage.load(assertValidId(id));
  }

  /** A recording still in progress, as recorded so far by every instance; undefined if it is finalized or unknown. */
  async getActive(id: string): Promise<Recording | undefined> {
    assertValidId(id);
    await this.sendOwnSegments();
    const segments = await this.storage.loadSegments(id);
    if (segments.length === 0 || (await this.loadBytes(id))) return undefined;
    return this.merge(id, segments, undefined);
  }

  /** Summaries of the recordings in progress on every instance. */
  async listActive(): Promise<RecordingSummary[]> {
    await this.sendOwnSegments();
    const ids = [...new Set((await this.storage.listSegments()).map((s) => s.recordingId))];
    const out: RecordingSummary[] = [];
    for (const id of ids) {
      const recording = this.merge(id, await this.storage.loadSegments(id), undefined);
      if (!recording) continue;
      const { events: _, ...summary } = recording;
      out.push(summary);
    }
    return out;
  }

  private merge(id: string, segments: Segment[], bytes: Uint8Array | undefined): Recording | undefined {
    const base = bytes ? decodeRecordingColumns(id, bytes) : undefined;
    const assembled = assembleSegments(id, segments, base);
    if (!assembled) return bytes ? decodeRecordingFile(id, bytes) : undefined;
    return recordingFromText(recordingText(assembled.meta, assembled.columns), assembled.meta.format, bytes?.length ?? 0);
  }

  private async loadBytes(id: string): Promise<Uint8Array | undefined> {
    try {
      return await this.storage.load(id);
    } catch (error) {
      if (error instanceof RecordingNotFoundError) return undefined;
      throw error;
    }
  }

  /** This instance's unsent frames into the store. A closed replay has none. */
  private async sendOwnSegments(): Promise<void> {
    await (await this.host()).request({ type: "sendSegments" });
  }

  /**
   * Erases one recording, finalized or active, everywhere this library wrote it
   * (see `eraseSession`); its session's later requests do not bring it back.
   * True when something of it was found.
   */
  async deleteRecording(id: string): Promise<boolean> {
    return (await this.erase({ recordingId: assertValidId(id) })).recordings.length > 0;
  }

  /** Erases every recording, finalized or active, everywhere (see `eraseSession`); recordings started after it are kept. */
  async clearAll(): Promise<void> {
    await this.erase({}, async (storage) => {
      await storage.clear();
      return NOTHING;
    });
  }

  /**
   * Erases a session's recordings (`sessionKey` of their summaries), finalized
   * and active, from the store (recordings, index, segments, claims), from
   * every instance's memory and journal (this one at once, the others within
   * about a second) and from journals of instances that are gone; what the
   * session still sends to a recording it had open is dropped. Recordings the
   * session starts afterwards are recorded.
   */
  async eraseSession(sessionKey: string): Promise<ErasureReport> {
    if (!isValidId(sessionKey)) {
      throw new ReplayError(`eraseSession: ${JSON.stringify(String(sessionKey)).slice(0, 80)} is not a session key; pass a recording's \`sessionKey\` (RecordingSummary.sessionKey)`);
    }
    return this.erase({ sessionKey });
  }

  /**
   * Erases, as `eraseSession` does, every session one of whose recordings
   * stored `session()` data with these fields, e.g. `{ session: { userId: "42" } }`
   * (values compared as strings; nested objects field by field). Finalized
   * recordings are read to find them: it takes a while on a large store.
   */
  async eraseWhere(where: { session: Record<string, unknown> }): Promise<ErasureReport> {
    checkSessionFields(where?.session, "session");
    return this.erase({ session: structuredClone(where.session) });
  }

  private erase(target: Pick<Erasure, "recordingId" | "sessionKey" | "session">, purge?: Parameters<typeof eraseEverywhere>[3]): Promise<ErasureReport> {
    const at = Date.now();
    const keep = Math.min(MAX_MARK_MS, Math.max(DAY, this.cleanupSettings.maxRecordingAgeMs));
    const erasure: Erasure = { id: `${at.toString(36)}-${randomToken(12)}`, at, until: at + keep, ...target };
    return eraseEverywhere(this.storage, erasure, (e) => this.eraseHere(e), purge).then((found) => ({ erasure, ...found }));
  }

  /** This instance's part: its engine forgets what it holds, rewrites its journal, undoes its recent writes. A closed replay has nothing. */
  private async eraseHere(e: Erasure): Promise<Erased> {
    return (await (await this.host()).request<Erased | undefined>({ type: "erase", erasure: e })) ?? NOTHING;
  }

  /**
   * Stored recordings that cannot be read (truncated, empty), with the reason,
   * newest first; `deleteRecording` removes one, and cleanup removes them by
   * age. [] for a storage that does not look for them (only fileStorage does).
   */
  listCorrupt(): Promise<CorruptRecording[]> {
    return this.storage.listCorrupt?.() ?? Promise.resolve([]);
  }

  /** Applies maxRecordings and maxRecordingAgeMs now; returns the deleted ids. */
  cleanup(): Promise<string[]> {
    return this.storage.cleanup({
      maxRecordings: this.cleanupSettings.maxRecordings,
      maxAgeMs: this.cleanupSettings.maxRecordingAgeMs,
    });
  }
}

/** An eraseWhere criterion must name something, in values a mark can store (JSON). */
function checkSessionFields(fields: unknown, path: string): void {
  if (!fields || typeof fields !== "object" || Array.isArray(fields) || Object.keys(fields).length === 0) {
    throw new ReplayError(`eraseWhere: ${path} must name at least one field of your session() data, e.g. eraseWhere({ session: { userId: "42" } })`);
  }
  for (const [key, value] of Object.entries(fields)) {
    if (value !== null && typeof value === "object") checkSessionFields(value, `${path}.${key}`);
    else if (!(value === null || typeof value === "string" || typeof value === "boolean" || Number.isFinite(value))) {
      throw new ReplayError(`eraseWhere: ${path}.${key} must be a string, a finite number, a boolean, null, or an object of those`);
    }
  }
}
