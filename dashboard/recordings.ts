/**
 * Recordings as the dashboard reads them: from the store, with a player for
 * their view, and what it remembers about them (a few decoded recordings,
 * fidelity results, why a file is corrupt).
 *
 * Invariants, and why:
 * - Only finalized recordings are kept decoded (a few: they and their player
 *   are what the frame batches of one open player reuse). Active ones change
 *   every second and are read anew.
 * - What is kept is re-checked against the store when it is older than
 *   REVALIDATE_MS: a recording deleted elsewhere (another admin, another
 *   instance, the API, cleanup) stops being served within that time, never
 *   "until evicted". A delete through this dashboard forgets it at once.
 * - `current()` never answers from memory: it is what decides whether a
 *   browser may keep its cached frames of a recording (routes/cached.ts).
 * - A corrupt file is remembered with its reason (the index lists it as
 *   corrupt) and never makes a page fail; forgetting an id forgets that too.
 *   When the index learns from the store that a file is corrupt
 *   (`noteCorrupt`), a decoded copy of it is dropped at once, so its page says
 *   so too; a file that reads again (restored) is no longer remembered as corrupt.
 */

import { CorruptRecordingError, type Recording, RecordingNotFoundError, type RecordingSummary, shortHash } from "../format/mod.ts";
import type { Player } from "../replay/mod.ts";
import { LruCache } from "./cache.ts";
import type { DashboardReplay } from "./env.ts";
import type { Problems } from "./problems.ts";
import { type FidelityCell, frameCacheKey } from "./shared.ts";

export interface Loaded {
  recording: Recording;
  active: boolean;
  /** Absent when the recording's view is not registered: it cannot be replayed. */
  player?: Player;
  /** Finalized only: the browser cache key of its frames. */
  cacheKey?: string;
  /** When the store last confirmed it (Date.now()). */
  checkedAt: number;
}

/** How long a kept recording is served without asking the store whether it still exists. */
const REVALIDATE_MS = 2_000;
const KEEP_DECODED = 8;
const KEEP_RESULTS = 20_000;

export class Recordings {
  private readonly decoded = new LruCache<string, Loaded>(KEEP_DECODED);
  /** Fidelity results of finalized recordings (they never change). */
  readonly fidelity = new LruCache<string, FidelityCell>(KEEP_RESULTS);
  private readonly corrupt = new LruCache<string, string>(KEEP_RESULTS);

  constructor(
    private readonly replay: DashboardReplay,
    private readonly problems: Problems,
    private readonly cacheVersion: string,
  ) {}

  /**
   * A recording, active or finalized, with its player; undefined when there is
   * none. Throws CorruptRecordingError (remembered) and StorageUnavailableError.
   */
  async load(id: string): Promise<Loaded | undefined> {
    const kept = this.decoded.get(id);
    if (kept && Date.now() - kept.checkedAt < REVALIDATE_MS) return kept;
    if (!kept) {
      // A finalized recording stays finalized (a session that comes back adds to the stored file): only an unknown id may be active.
      const active = await this.problems.stored(() => this.replay.store.getActive(id));
      if (active) return this.withPlayer(active, true);
    }
    const recording = await this.read(id);
    if (!recording) return undefined;
    if (kept && sameRecording(kept.recording, recording)) {
      kept.checkedAt = Date.now(); // still there, unchanged: keep the warm player
      return kept;
    }
    const loaded = this.withPlayer(recording, false);
    this.decoded.set(id, loaded);
    return loaded;
  }

  /** The summary of the recording as the store has it now (never from memory); undefined when it is gone or unreadable. */
  async current(id: string): Promise<RecordingSummary | undefined> {
    try {
      const recording = await this.read(id);
      return recording && summaryOf(recording);
    } catch (error) {
      if (error instanceof CorruptRecordingError) return undefined; // no frames of it can be cached
      throw error;
    }
  }

  /** Why the recording's file cannot be read, if it was found corrupt. */
  corruptReason(id: string): string | undefined {
    return this.corrupt.get(id);
  }

  /** Forgets everything about one recording (deleted), or about all of them. */
  forget(id?: string): void {
    if (id === undefined) {
      this.decoded.clear();
      this.fidelity.clear();
      this.corrupt.clear();
    } else {
      this.decoded.delete(id);
      this.fidelity.delete(id);
      this.corrupt.delete(id);
    }
  }

  /** The store found these recordings' files unreadable: a kept copy of one is not served again, and why is remembered. */
  noteCorrupt(found: readonly { id: string; reason: string }[]): void {
    for (const { id, reason } of found) {
      this.decoded.delete(id);
      this.corrupt.set(id, reason);
      this.fidelity.set(id, corruptCell(reason));
    }
  }

  /** The store's recording; undefined (and forgotten) when it has none. */
  private async read(id: string): Promise<Recording | undefined> {
    let recording: Recording;
    try {
      recording = await this.problems.stored(() => this.replay.store.getRecording(id));
    } catch (error) {
      if (error instanceof RecordingNotFoundError) {
        this.forget(id);
        return undefined;
      }
      if (error instanceof CorruptRecordingError) this.noteCorrupt([{ id, reason: error.message }]);
      throw error;
    }
    if (this.corrupt.has(id)) this.forget(id); // restored from a backup: what was remembered of the broken file is wrong
    return recording;
  }

  private withPlayer(recording: Recording, active: boolean): Loaded {
    const loaded: Loaded = { recording, active, checkedAt: Date.now() };
    if (!this.replay.views[recording.view]) return loaded;
    loaded.player = this.replay.player(recording);
    if (!active && loaded.player.frameCount > 0) {
      const first = loaded.player.renderFrame(0).html;
      loaded.cacheKey = frameCacheKey(recording.id, recording.sizeBytes, shortHash(first), this.cacheVersion);
    }
    return loaded;
  }
}

/** The fidelity column of a recording whose file cannot be read: the reason is the title. */
export function corruptCell(reason: string): FidelityCell {
  return { label: "corrupt", tone: "bad", title: reason };
}

export function summaryOf(recording: Recording): RecordingSummary {
  const { events: _events, ...summary } = recording;
  return summary;
}

/** The same stored recording: a session that came back after it was finalized adds events (and bytes). */
function sameRecording(a: Recording, b: Recording): boolean {
  return a.sizeBytes === b.sizeBytes && a.events.length === b.events.length && a.durationMs === b.durationMs;
}
