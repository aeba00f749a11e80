import type { RecordingSummary } from "../format/mod.ts";

/**
 * How a persistence worker opens the same storage in its own thread: a module
 * URL, the name of a factory it exports, and options that survive
 * structured cloning. Storages without one (memory, or an object holding a live
 * connection) keep the drain loop in the request thread.
 */
export interface StorageSpec {
  module: string;
  export: string;
  options: unknown;
}

export type SortKey = "startedAt" | "durationMs" | "eventCount" | "sizeBytes";

export interface SummaryFilter {
  view?: string;
  urlContains?: string;
  /** Started at or after (epoch ms). */
  from?: number;
  /** Started before (epoch ms). */
  to?: number;
  minDurationMs?: number;
  minEvents?: number;
  /** Has at least one user event with this name. */
  eventName?: string;
  /** Case-insensitive substring of the view, URL or an event name. */
  text?: string;
  sort?: SortKey;
  order?: "asc" | "desc";
  /** Page size. Default: everything. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface SummaryPage {
  items: RecordingSummary[];
  /** Pass as `cursor` for the next page; undefined on the last page. */
  nextCursor?: string;
}

export interface CleanupPolicy {
  maxRecordings: number;
  maxAgeMs: number;
  now?: number;
}

/** One interface for every backend; the conformance suite holds them to it. */
export interface RecordingStorage {
  readonly name: string;
  readonly spec?: StorageSpec;
  /** Stores (or replaces) one finalized recording. */
  save(summary: RecordingSummary, bytes: Uint8Array): Promise<void>;
  /** The stored bytes; RecordingNotFoundError when there is no such recording. */
  load(id: string): Promise<Uint8Array>;
  list(filter?: SummaryFilter): Promise<SummaryPage>;
  /** True when something was deleted. */
  delete(id: string): Promise<boolean>;
  clear(): Promise<void>;
  /** Deletes what is older than maxAgeMs and, oldest first, what exceeds maxRecordings; returns the ids. */
  cleanup(policy: CleanupPolicy): Promise<string[]>;
  close?(): Promise<void>;
}
