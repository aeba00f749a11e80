/** Storage backends: one interface, shared filtering. */
export { fileStorage, type FileStorageOptions } from "./file.ts";
export { memoryStorage } from "./memory.ts";
export { idsToClean, matchesFilter, pageSummaries } from "./filter.ts";
export type { CleanupPolicy, RecordingStorage, SortKey, StorageSpec, SummaryFilter, SummaryPage } from "./types.ts";
