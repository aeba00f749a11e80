/**
 * The programmatic API over stored and active recordings. Ids are checked here,
 * before any backend sees them.
 */

import { assertValidId, decodeRecordingFile, type Format, type Recording, recordingFromText, type RecordingSummary } from "../format/mod.ts";
import type { RecordingStorage, SummaryFilter, SummaryPage } from "../storage/mod.ts";
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

  /** A finalized recording. Throws InvalidIdError, RecordingNotFoundError or CorruptRecordingError. */
  async getRecording(id: string): Promise<Recording> {
    assertValidId(id);
    return decodeRecordingFile(id, await this.storage.load(id));
  }

  /** A recording still in progress, as recorded so far; undefined if no such recording is active. */
  async getActive(id: string): Promise<Recording | undefined> {
    assertValidId(id);
    const host = await this.host();
    const active = await host.request<{ text: string; format: Format } | null>({ type: "getActive", id });
    return active ? recordingFromText(active.text, active.format, 0) : undefined;
  }

  async listActive(): Promise<RecordingSummary[]> {
    return (await this.host()).request<RecordingSummary[]>({ type: "listActive" });
  }

  async deleteRecording(id: string): Promise<boolean> {
    return this.storage.delete(assertValidId(id));
  }

  clearAll(): Promise<void> {
    return this.storage.clear();
  }

  /** Applies maxRecordings and maxRecordingAgeMs now; returns the deleted ids. */
  cleanup(): Promise<string[]> {
    return this.storage.cleanup({
      maxRecordings: this.cleanupSettings.maxRecordings,
      maxAgeMs: this.cleanupSettings.maxRecordingAgeMs,
    });
  }
}
