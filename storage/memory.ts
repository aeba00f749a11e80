import { assertValidId, randomToken, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { checkErasure, idsToClean, pageSummaries, unexpired } from "./filter.ts";
import type { CleanupPolicy, Erasure, RecordingStorage, Segment, SummaryFilter, SummaryPage } from "./types.ts";

/** Keeps recordings in this thread's memory: for tests and throwaway runs. Runs the drain loop in-process. */
export function memoryStorage(): RecordingStorage {
  const summaries = new Map<string, RecordingSummary>();
  const files = new Map<string, Uint8Array>();
  /** recording id → segment key → segment */
  const segments = new Map<string, Map<string, Segment>>();
  const claims = new Map<string, { owner: string; until: number }>();
  const erasures = new Map<string, Erasure>();
  const secret = randomToken(43);
  const forget = (id: string) => {
    files.delete(id);
    segments.delete(id);
    claims.delete(id);
    return summaries.delete(id);
  };
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
      const hadSegments = segments.has(id);
      return forget(id) || hadSegments;
    },
    async clear() {
      summaries.clear();
      files.clear();
      segments.clear();
      claims.clear();
    },
    async cleanup(policy: CleanupPolicy) {
      const doomed = idsToClean([...summaries.values()], policy);
      for (const id of doomed) forget(id);
      return doomed;
    },
    async appendSegment(segment) {
      assertValidId(segment.recordingId);
      let of = segments.get(segment.recordingId);
      if (!of) segments.set(segment.recordingId, (of = new Map()));
      of.set(segment.key, { ...segment });
    },
    async loadSegments(recordingId) {
      return [...(segments.get(recordingId)?.values() ?? [])].map((s) => ({ ...s }));
    },
    async listSegments() {
      return [...segments.values()].flatMap((of) => [...of.values()].map(({ recordingId, key, lastAt }) => ({ recordingId, key, lastAt })));
    },
    async deleteSegments(recordingId, keys) {
      const of = segments.get(recordingId);
      if (!of) return;
      for (const key of keys) of.delete(key);
      if (of.size === 0) segments.delete(recordingId);
    },
    async claim(recordingId, owner, ttlMs) {
      const now = Date.now();
      const held = claims.get(recordingId);
      if (held && held.owner !== owner && held.until > now) return false;
      claims.set(recordingId, { owner, until: now + ttlMs });
      return true;
    },
    async release(recordingId, owner) {
      if (claims.get(recordingId)?.owner === owner) claims.delete(recordingId);
    },
    async sharedSecret() {
      return secret;
    },
    async addErasure(erasure) {
      if (!erasures.has(checkErasure(erasure).id)) erasures.set(erasure.id, structuredClone(erasure));
      for (const [id, e] of erasures) if (e.until <= Date.now()) erasures.delete(id);
    },
    async listErasures() {
      return unexpired(erasures.values()).map((e) => structuredClone(e));
    },
  };
}
