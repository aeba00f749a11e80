/**
 * memoryStorage: recordings in this thread's memory, for tests and throwaway
 * runs. It has no `spec`: the drain loop runs in-process.
 *
 * Invariant: recording bytes, segments and erasure marks are copied in and
 * out, so a caller changing what it passed or got does not change what is
 * stored. The concerns (recordings, segments, claims, erasure marks) are
 * methods over one `MemoryState`, spread into a plain object so that a copy
 * of the storage (`{ ...storage }`) keeps every method.
 */

import { assertValidId, randomToken, RecordingNotFoundError, type RecordingSummary } from "../format/mod.ts";
import { checkErasure, idsToClean, pageSummaries, unexpired } from "./filter.ts";
import type { CleanupPolicy, Erasure, RecordingStorage, Segment, SummaryFilter, SummaryPage } from "./types.ts";

/** Everything one memoryStorage holds. */
class MemoryState {
  readonly summaries = new Map<string, RecordingSummary>();
  readonly files = new Map<string, Uint8Array>();
  /** recording id → segment key → segment */
  readonly segments = new Map<string, Map<string, Segment>>();
  readonly claims = new Map<string, { owner: string; until: number }>();
  readonly erasures = new Map<string, Erasure>();
  readonly secret = randomToken(43);

  /** Removes a recording, its segments and its claim; true when it had a summary. */
  forget(id: string): boolean {
    this.files.delete(id);
    this.segments.delete(id);
    this.claims.delete(id);
    return this.summaries.delete(id);
  }
}

/** Keeps recordings in this thread's memory: for tests and throwaway runs. Runs the drain loop in-process. */
export function memoryStorage(): RecordingStorage {
  const state = new MemoryState();
  return { name: "memory", ...recordingMethods(state), ...segmentMethods(state), ...claimMethods(state), ...erasureMethods(state) };
}

function recordingMethods(state: MemoryState): Pick<RecordingStorage, "save" | "load" | "list" | "delete" | "clear" | "cleanup"> {
  return {
    async save(summary, bytes) {
      assertValidId(summary.id);
      state.summaries.set(summary.id, { ...summary });
      state.files.set(summary.id, bytes.slice());
    },
    async load(id) {
      const bytes = state.files.get(id);
      if (!bytes) throw new RecordingNotFoundError(id);
      // A copy: a caller changing what it got must not change what is stored.
      return bytes.slice();
    },
    async list(filter?: SummaryFilter): Promise<SummaryPage> {
      return pageSummaries(state.summaries.values(), filter);
    },
    async delete(id) {
      const hadSegments = state.segments.has(id);
      return state.forget(id) || hadSegments;
    },
    async clear() {
      state.summaries.clear();
      state.files.clear();
      state.segments.clear();
      state.claims.clear();
    },
    async cleanup(policy: CleanupPolicy) {
      const doomed = idsToClean([...state.summaries.values()], policy);
      for (const id of doomed) state.forget(id);
      return doomed;
    },
  };
}

function segmentMethods(state: MemoryState): Pick<RecordingStorage, "appendSegment" | "loadSegments" | "listSegments" | "deleteSegments"> {
  const { segments } = state;
  return {
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
  };
}

function claimMethods(state: MemoryState): Pick<Required<RecordingStorage>, "claim" | "release" | "sharedSecret"> {
  const { claims } = state;
  return {
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
      return state.secret;
    },
  };
}

function erasureMethods(state: MemoryState): Pick<RecordingStorage, "addErasure" | "listErasures"> {
  const { erasures } = state;
  return {
    async addErasure(erasure) {
      if (!erasures.has(checkErasure(erasure).id)) erasures.set(erasure.id, structuredClone(erasure));
      for (const [id, e] of erasures) if (e.until <= Date.now()) erasures.delete(id);
    },
    async listErasures() {
      return unexpired(erasures.values()).map((e) => structuredClone(e));
    },
  };
}
