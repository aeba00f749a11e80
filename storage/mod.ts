/** Storage backends: one interface, shared filtering. idbStorage is not here: it has its own entry point (idb.ts), so servers never load idb-keyval. */
export { durableWrite, fileStorage, type FileStorageOptions } from "./file.ts";
export { memoryStorage } from "./memory.ts";
export { postgresMigrationSql, type PostgresStorage, postgresStorage, type PostgresStorageOptions } from "./postgres.ts";
export { type DenoKvStorage, denoKvStorage, type DenoKvStorageOptions } from "./deno_kv.ts";
export { idsToClean, matchesFilter, pageSummaries } from "./filter.ts";
export type { CleanupPolicy, CorruptRecording, Erasure, ErasureStore, RecordingStorage, Segment, SegmentInfo, SegmentStore, SortKey, StorageSpec, SummaryFilter, SummaryPage } from "./types.ts";
