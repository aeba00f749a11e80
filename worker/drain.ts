/**
 * The active recordings, fed frame by frame. A recording is kept as columns of
 * raw payload text; nothing is parsed but the start frame, so draining costs
 * about as much as splitting strings. Ending a recording either discards it (no
 * user interaction) or encodes, compresses and hands it to the persister.
 */

import {
  encodeRecordingFile,
  frame,
  FrameKind,
  isEventKind,
  isInteraction,
  parseFrameHeader,
  type RecordingColumns,
  type RecordingMeta,
  type RecordingSummary,
  recordingText,
  type StartMeta,
} from "../format/mod.ts";

export interface Finalized {
  summary: RecordingSummary;
  bytes: Uint8Array;
}

interface Active {
  id: string;
  meta: StartMeta;
  columns: RecordingColumns;
  eventNames: Set<string>;
  interactions: number;
  truncated: boolean;
  dropped: number;
  recovered: boolean;
  /** Wall clock of the last frame, for the idle safety net. */
  lastSeen: number;
}

/** The id of the journal's own marker lines. */
export const JOURNAL_ID = "~";

export interface DrainerStats {
  frames: number;
  finalized: number;
  discarded: number;
  orphans: number;
}

export class Drainer {
  private readonly active = new Map<string, Active>();
  readonly stats: DrainerStats = { frames: 0, finalized: 0, discarded: 0, orphans: 0 };

  constructor(
    private readonly onFinalized: (recording: Finalized) => void,
    private readonly idleTimeoutMs: number,
  ) {}

  get size(): number {
    return this.active.size;
  }

  /** Applies frames in order. `now` is the wall clock they arrived at. */
  ingest(lines: string[], now = Date.now()): void {
    for (const line of lines) this.apply(line, now);
  }

  private apply(line: string, now: number): void {
    const h = parseFrameHeader(line);
    if (!h) return;
    this.stats.frames++;
    if (h.kind === FrameKind.start) {
      const meta = JSON.parse(line.slice(h.payloadAt)) as StartMeta;
      this.active.set(h.id, {
        id: h.id,
        meta,
        columns: { kinds: "", offsets: [], labels: [], payloads: [] },
        eventNames: new Set(),
        interactions: 0,
        truncated: false,
        dropped: 0,
        recovered: false,
        lastSeen: now,
      });
      return;
    }
    const rec = this.active.get(h.id);
    if (!rec) {
      if (h.id !== JOURNAL_ID) this.stats.orphans++;
      return;
    }
    rec.lastSeen = now;
    if (isEventKind(h.kind)) {
      const c = rec.columns;
      c.kinds += h.kind;
      c.offsets.push(h.t);
      if (h.kind === FrameKind.event || h.kind === FrameKind.info) c.labels.push(h.label);
      c.payloads.push(line.slice(h.payloadAt));
      if (isInteraction(h.kind)) rec.interactions++;
      if (h.kind === FrameKind.event) rec.eventNames.add(h.label);
    } else if (h.kind === FrameKind.truncated) {
      rec.truncated = true;
    } else if (h.kind === FrameKind.dropped) {
      rec.dropped += Number(h.label) || 0;
    } else if (h.kind === FrameKind.end) {
      this.finalize(h.id);
    }
  }

  /** Ends recordings the request thread never ended (its end frame was lost). */
  tick(now = Date.now()): void {
    for (const rec of this.active.values()) {
      if (now - rec.lastSeen > this.idleTimeoutMs) this.finalize(rec.id);
    }
  }

  finalizeAll(recovered = false): void {
    for (const rec of [...this.active.values()]) {
      rec.recovered ||= recovered;
      this.finalize(rec.id);
    }
  }

  /** Forgets a recording whose end the journal says was already persisted. */
  forget(id: string): void {
    this.active.delete(id);
  }

  finalize(id: string): void {
    const rec = this.active.get(id);
    if (!rec) return;
    this.active.delete(id);
    if (rec.interactions === 0) {
      this.stats.discarded++;
      return;
    }
    const meta = metaOf(rec);
    const bytes = encodeRecordingFile(meta, rec.columns);
    this.stats.finalized++;
    this.onFinalized({ summary: { ...meta, sizeBytes: bytes.length }, bytes });
  }

  /** An active recording as uncompressed file text (the request thread decodes it). */
  activeText(id: string): { text: string; format: StartMeta["format"] } | undefined {
    const rec = this.active.get(id);
    return rec && { text: recordingText(metaOf(rec), rec.columns), format: rec.meta.format };
  }

  activeSummaries(): RecordingSummary[] {
    return [...this.active.values()].map((rec) => ({ ...metaOf(rec), sizeBytes: 0 }));
  }

  /** Every active recording as frames: what a compacted journal starts with. */
  *activeFrames(): Generator<string> {
    for (const rec of this.active.values()) {
      yield frame(rec.id, FrameKind.start, 0, "", JSON.stringify(rec.meta));
      const c = rec.columns;
      let label = 0;
      for (let i = 0; i < c.kinds.length; i++) {
        const kind = c.kinds[i] as typeof FrameKind.event;
        const hasLabel = kind === FrameKind.event || kind === FrameKind.info;
        yield frame(rec.id, kind, c.offsets[i], hasLabel ? c.labels[label++] : "", c.payloads[i]);
      }
      if (rec.truncated) yield frame(rec.id, FrameKind.truncated, 0, "", "0");
      if (rec.dropped) yield frame(rec.id, FrameKind.dropped, 0, String(rec.dropped), "0");
    }
  }
}

function metaOf(rec: Active): RecordingMeta {
  const offsets = rec.columns.offsets;
  return {
    id: rec.id,
    view: rec.meta.view,
    url: rec.meta.url,
    sessionKey: rec.meta.sessionKey,
    startedAt: rec.meta.startedAt,
    durationMs: offsets.length ? offsets[offsets.length - 1] : 0,
    eventCount: offsets.length,
    eventNames: [...rec.eventNames],
    truncated: rec.truncated,
    dropped: rec.dropped,
    recovered: rec.recovered,
    format: rec.meta.format,
  };
}
