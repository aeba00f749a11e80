import { assertValidId, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { idsToClean, pageSummaries } from "./filter.ts";
import type { CleanupPolicy, RecordingStorage, SummaryFilter, SummaryPage } from "./types.ts";

/** Keeps recordings in this thread's memory: for tests and throwaway runs. Runs the drain loop in-process. */
export function memoryStorage(): RecordingStorage {
  const summaries = new Map<string, RecordingSummary>();
  const files = new Map<string, Uint8Array>();
  return {
    name: "memory",
    async save(summary, bytes) {
      assertValidId(summary.id);
      summaries.set(summary.id, { ...summary });
      files.set(summary.id, bytes.slice());
    },
    async load(id) {
      const bytes = files.get(id);
      if (!bytes) throw new RecordingNotFoundError(id);
      // A copy: a caller changing what it got must not change what is stored.
      return bytes.slice();
    },
    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      return pageSummaries(summaries.values(), filter);
    },
    async delete(id) {
      files.delete(id);
      return summaries.delete(id);
    },
    async clear() {
      summaries.clear();
      files.clear();
    },
    async cleanup(policy: CleanupPolicy) {
      const doomed = idsToClean([...summaries.values()], policy);
      for (const id of doomed) {
        summaries.delete(id);
        files.delete(id);
      }
      return doomed;
    },
  };
}
