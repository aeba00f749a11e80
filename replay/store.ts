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
 */

import {
  assembleSegments,
  assertValidId,
  decodeRecordingColumns,
  decodeRecordingFile,
  type Recording,
  recordingFromText,
  RecordingNotFoundError,
  type RecordingSummary,
  recordingText,
} from "../format/mod.ts";
import type { CorruptRecording, RecordingStorage, Segment, SummaryFilter, SummaryPage } from "../storage/mod.ts";
import type { EngineHost } from "../worker/mod.ts";

export interface CleanupSettings {
  maxRecordings: number;
  maxRecordingAgeMs: number;
}

export class ReplayStore {
  constructor(
    readonly storage: RecordingStorage,
    private readonly host: () => Promise<EngineHost>,
    private readonly cleanupSettings: CleanupSettings,
  ) {}

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
        console.warn(`hono-replay: ${(error as Error).message}`);
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

  async deleteRecording(id: string): Promise<boolean> {
    return this.storage.delete(assertValidId(id));
  }

  clearAll(): Promise<void> {
    return this.storage.clear();
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
