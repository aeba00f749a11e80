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
  /** The recordings of one session (`RecordingSummary.sessionKey`). */
  sessionKey?: string;
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

/** A stored recording that cannot be read (file storage: truncated, empty, not a recording file). */
export interface CorruptRecording {
  id: string;
  /** Why it cannot be read: the CorruptRecordingError's message, which says what to do. */
  reason: string;
  sizeBytes: number;
  /** When it was last written (epoch ms): cleanup removes it by this once older than maxAgeMs. */
  modifiedAt: number;
}

export interface CleanupPolicy {
  maxRecordings: number;
  maxAgeMs: number;
  now?: number;
}

/**
 * One interface for every backend; the conformance suite holds them to it.
 * `delete` and `clear` remove segments too: erasure covers active recordings.
 */
export interface RecordingStorage extends SegmentStore, ErasureStore {
  readonly name: string;
  readonly spec?: StorageSpec;
  /**
   * Where the crash journal and spilled recordings of this storage belong, when
   * the storage has a place on disk for them (fileStorage: `<path>/.journal`).
   * Without it, createReplay uses a per-storage directory under the system temp dir.
   */
  readonly journalDir?: string;
  /** Stores (or replaces) one finalized recording. */
  save(summary: RecordingSummary, bytes: Uint8Array): Promise<void>;
  /** The stored bytes; RecordingNotFoundError when there is no such recording. */
  load(id: string): Promise<Uint8Array>;
  list(filter?: SummaryFilter): Promise<SummaryPage>;
  /** True when something was deleted. */
  delete(id: string): Promise<boolean>;
  /** Deletes every recording and segment; the shared secret and the erasures stay. */
  clear(): Promise<void>;
  /** Deletes what is older than maxAgeMs and, oldest first, what exceeds maxRecordings; returns the ids. Erasures stay. */
  cleanup(policy: CleanupPolicy): Promise<string[]>;
  /**
   * Stored recordings that cannot be read, with the reason, newest first.
   * Optional: a storage that has none to find (its writes are atomic and it
   * keeps no separate index) leaves it out. `delete(id)` removes one.
   */
  listCorrupt?(): Promise<CorruptRecording[]>;
  close?(): Promise<void>;
  /**
   * A random secret of this store, made by whichever instance asks first and
   * the same for every instance after (it survives `clear`). It signs session
   * ids when none is configured, so instances sharing a store accept each
   * other's sessions with no configuration. Optional: without it, and without
   * a configured `secret`, each process signs with its own.
   */
  sharedSecret?(): Promise<string>;
}

/**
 * A piece of an active recording, appended by one instance. Instances that
 * serve the same session each append their own segments; a recording comes
 * together by merging them (format/segments.ts), so the instance that served a
 * request does not matter. Segments are written often (about once a second, up to 5 s apart on a busy instance) and
 * read rarely (the dashboard's live views, finalization).
 */
export interface SegmentInfo {
  recordingId: string;
  /**
   * Unique within the recording: `<instance id>-<counter>`. Appending a key
   * that exists replaces it (a retried append is harmless).
   */
  key: string;
  /** Wall-clock epoch ms of the latest frame in the segment: when the recording was last active. */
  lastAt: number;
}

export interface Segment extends SegmentInfo {
  /** Frame lines (format/events.ts), "\n"-separated: a start frame first, then the frames. */
  text: string;
}

/**
 * What the shared store offers so that several instances can record one
 * session: segments, and a lease so that exactly one instance finalizes a
 * recording. Every backend implements it; the conformance suite checks it.
 */
export interface SegmentStore {
  appendSegment(segment: Segment): Promise<void>;
  /** The recording's segments, in any order; [] when it has none. */
  loadSegments(recordingId: string): Promise<Segment[]>;
  /** Every segment's header (no text), in any order: the active recordings. */
  listSegments(): Promise<SegmentInfo[]>;
  /** Deletes these segments of the recording (those merged into a finalized recording). Unknown keys are ignored. */
  deleteSegments(recordingId: string, keys: string[]): Promise<void>;
  /**
   * Takes, or renews, the right to finalize `recordingId` for `ttlMs`. False
   * while another owner holds an unexpired claim. Atomic: of two instances
   * racing, exactly one gets true.
   */
  claim(recordingId: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the claim up (only if `owner` holds it). */
  release(recordingId: string, owner: string): Promise<void>;
}

/**
 * The mark of an erasure (replay/store.ts): every recording it covers that
 * started at or before `at` was erased, and must not come back — not from a
 * segment that reaches the store late, a journal recovered later, nor a
 * session still running. Every instance reads the marks (worker/erasure.ts)
 * and drops what they cover; a mark is kept until `until`, when whatever it
 * covers is past `maxRecordingAgeMs` and cleanup would remove it anyway.
 *
 * Covered: with `recordingId`, that recording; with `sessionKey`, the
 * session's recordings; with `session`, recordings whose mount stored
 * `session()` data with these fields (values compared as strings, nested
 * objects in part); with none of them, every recording (clearAll).
 */
export interface Erasure {
  /** Unique; adding an erasure whose id is stored already changes nothing. Same alphabet as recording ids. */
  id: string;
  /** Epoch ms: recordings started later are not covered. */
  at: number;
  /** Epoch ms after which the store may drop the mark. */
  until: number;
  recordingId?: string;
  sessionKey?: string;
  session?: Record<string, unknown>;
}

/** Where instances leave erasure marks for each other; every backend implements it, the conformance suite checks it. */
export interface ErasureStore {
  /** Stores the mark, for every handle on the store to list. */
  addErasure(erasure: Erasure): Promise<void>;
  /** Every mark not past its `until`, in any order; a store may drop expired ones meanwhile. */
  listErasures(): Promise<Erasure[]>;
}
