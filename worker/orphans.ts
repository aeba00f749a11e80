/**
 * Recovery of journals left by instances that died (SIGKILL, power loss) or
 * let go of frames on a clean shutdown the store would not take.
 *
 * Invariants, and why:
 * - Their unsent frames go to the store as segments, marked recovered when
 *   the instance crashed; the store sweep (delivery.ts) finalizes the
 *   recordings once idle, since another instance may be carrying them on.
 *   Recordings the journal says were ended or let go are finalized at once.
 * - A recording's unsent frames go under the key the dead instance would have
 *   given its next segment: its id (journal_name.ts journalOwner) and how many
 *   frames its journal says are in the store (drain.ts segmentKey). An
 *   instance killed after the store took a segment, before its journal
 *   recorded that (the done marker), wrote those very frames under that very
 *   key; what the journal holds starts with them, so the recovered segment
 *   replaces that one instead of repeating its frames. (Frames carry no
 *   identity of their own: two genuine frames can be alike to the byte, so
 *   merging cannot tell a repeat from a second event. The key must.)
 * - A journal is claimed by renaming it first (`recovering-…`, keeping its
 *   name), so two instances starting at once do not both recover it, and one
 *   that dies while recovering leaves it to the next (the claimed file goes
 *   stale). One whose recovery fails (the store is down) is renamed back:
 *   segment keys make a retry harmless (the same key replaces, never
 *   duplicates). A journal whose name is not this library's (no instance to
 *   read from it) goes under `<name>-r`, which a retry repeats too.
 * - One recovery at a time per engine (`recover` waits for the one under
 *   way): the store sweep runs after it (engine.ts), and must not finalize a
 *   recording while this instance is still writing a journal's segments of it.
 *   `recover` says whether recovery is settled: not while the erasure marks
 *   are unknown (nothing was recovered), nor while a dead instance's journal
 *   is claimed by another instance (its segments are on their way from there;
 *   a claim whose claimer died goes stale and is recovered here) or could not
 *   be claimed. The sweep waits for settled, within a bound (engine.ts).
 * - Nothing of a journal is delivered before the erasure marks are known:
 *   they decide what must not be (erasure.ts filters every frame).
 * - Only journals this app wrote are delivered (private_dir.ts): anything else
 *   is left where it is, and said.
 * - A compaction's aside file (`….journal.compact`) that outlived its process
 *   is removed: the journal it was made from still holds every frame.
 * - A fault while scanning (the directory unreadable, a claim that fails for
 *   another reason than another instance's claim) is counted and logged
 *   through `Faults`, never swallowed: journals that are never recovered are
 *   recordings lost.
 */

import { readdir, rename, rm, utimes } from "node:fs/promises";
import { join } from "node:path";
import { frame, FrameKind, parseFrameHeader } from "../format/mod.ts";
import type { Faults, Logger } from "../logger.ts";
import type { RecordingStorage, Segment } from "../storage/mod.ts";
import type { Delivery } from "./delivery.ts";
import { segmentKey } from "./drain.ts";
import type { EngineErasures } from "./erasure.ts";
import { COMPACTING, Journal, RELEASED } from "./journal.ts";
import { claimedName, isClaimedName, isOrphan, journalName, journalOwner, STALE_JOURNAL_MS, touchedAt } from "./journal_name.ts";
import { untrustedJournal } from "./private_dir.ts";
import { sleep } from "./runtime.ts";

/** What the engine lends journal recovery. */
export interface OrphansHost {
  dir: string;
  instanceId: string;
  storage: RecordingStorage;
  erasures: EngineErasures;
  delivery: Delivery;
  logger: Logger;
  faults: Faults;
}

export class Orphans {
  /** The latest recovery asked for: the next one starts when it is done. */
  private recovering: Promise<boolean> = Promise.resolve(true);

  constructor(private readonly host: OrphansHost) {}

  /**
   * Recovers every journal in the directory whose instance is gone, once the
   * recovery under way is done; throws when the store fails (the journal is
   * given back). Each call scans anew: journals may have gone stale since.
   * Resolves whether recovery is settled (see the header).
   */
  recover(): Promise<boolean> {
    const run = () => this.recoverAll();
    // A failure of the previous run went to its own caller; this run goes ahead regardless.
    this.recovering = this.recovering.then(run, run);
    return this.recovering;
  }

  private async recoverAll(): Promise<boolean> {
    const { dir, erasures } = this.host;
    // Until the erasure marks are known, nothing of a journal may be delivered: they decide what must not be.
    if (!erasures.loaded) return false;
    const own = await journalName(this.host.instanceId);
    let settled = true;
    for (const name of await this.journalFiles()) {
      if (name.endsWith(COMPACTING) && name !== own + COMPACTING) await this.removeAbandoned(join(dir, name));
      if (!name.endsWith(".journal") || name === own) continue;
      const path = join(dir, name);
      const distrusted = untrustedJournal(path);
      if (distrusted) {
        this.host.logger.warn(`${path} is not delivered: ${distrusted}. Journals this library writes are this user's, mode 600; remove the file (or, if it is yours, chmod 600 it)`);
        continue;
      }
      if (!(await isOrphan(name, path))) {
        if (isClaimedName(name)) settled = false; // another instance is recovering it
        continue;
      }
      const claimed = await this.claim(path, name);
      if (!claimed) {
        settled = false; // another instance took it first, or it cannot be claimed yet
        continue;
      }
      try {
        await this.recoverJournal(claimed, name);
      } catch (error) {
        // The store is down: give it back, for whoever tries next (segment keys make a retry harmless).
        await rename(claimed, name.startsWith(RELEASED) ? path : join(dir, RELEASED + name)).catch((e) => this.host.logger.warn(`cannot release ${claimed}: ${e.message}`));
        throw error;
      }
      await sleep(0);
    }
    return settled;
  }

  /** The directory's entries; none (counted and logged) when it cannot be read. */
  private async journalFiles(): Promise<string[]> {
    try {
      return await readdir(this.host.dir);
    } catch (error) {
      this.host.faults.report("journal directory unreadable", error, () => `the journal directory ${this.host.dir} cannot be read, so journals of instances that died are not recovered`);
      return [];
    }
  }

  /**
   * Takes a journal by renaming it to `recovering-…` (touched, so that it goes
   * stale only if this instance dies too). Undefined when another instance
   * took it first, or (counted and logged) when it cannot be renamed.
   */
  private async claim(path: string, name: string): Promise<string | undefined> {
    const claimed = join(this.host.dir, claimedName(this.host.instanceId, name));
    try {
      await rename(path, claimed);
      const now = new Date();
      await utimes(claimed, now, now);
      return claimed;
    } catch (error) {
      // ENOENT: another instance claimed it first, as it may.
      if ((error as NodeJS.ErrnoException)?.code !== "ENOENT") {
        this.host.faults.report("journal claim", error, () => `claiming the orphaned journal ${path} failed; it is not recovered until it can be`);
      }
      return undefined;
    }
  }

  /**
   * A journal's compaction writes `….journal.compact` and renames it within one
   * synchronous call; one that stays (its process died mid-compaction) would
   * hold its space for good.
   */
  private async removeAbandoned(path: string): Promise<void> {
    if (Date.now() - (await touchedAt(path)) < STALE_JOURNAL_MS) return;
    await rm(path, { force: true });
    this.host.logger.warn(`removed ${path}: a journal compaction its process did not finish`);
  }

  private async recoverJournal(path: string, name: string): Promise<void> {
    const { erasures, delivery } = this.host;
    const journal = Journal.read(path);
    const { byId, ended } = groupByRecording(erasures.filter(journal.frames));
    // A journal released on a clean shutdown is not a crash; one left behind is.
    const crashed = !name.startsWith(RELEASED);
    const owner = journalOwner(name);
    const fallback = name.replace(RELEASED, "").replace(/\.journal$/, "").replace(/[^A-Za-z0-9_-]/g, "_") + "-r";
    for (const [id, lines] of byId) {
      // The key the owner sent (or would have sent) these frames under: what the store took of them is replaced.
      const key = owner ? segmentKey(owner, journal.sent.get(id) ?? 0) : fallback;
      const segment = journalSegment(id, lines, key, crashed);
      if (segment) {
        await this.host.storage.appendSegment(segment);
        erasures.wroteSegment(segment);
        delivery.counts.recovered++;
      }
      if (ended.has(id)) await delivery.schedule(id, () => delivery.finalize(id, ended.get(id)));
    }
    await rm(path, { force: true });
  }
}

/** A journal's frames by recording, and the recordings its instance had ended (undefined) or let go (since). */
function groupByRecording(frames: string[]): { byId: Map<string, string[]>; ended: Map<string, number | undefined> } {
  const byId = new Map<string, string[]>();
  const ended = new Map<string, number | undefined>();
  for (const line of frames) {
    const h = parseFrameHeader(line);
    if (!h) continue;
    if (h.kind === FrameKind.end) ended.set(h.id, undefined);
    if (h.kind === FrameKind.leave && !ended.has(h.id)) ended.set(h.id, Number(h.label));
    let of = byId.get(h.id);
    if (!of) byId.set(h.id, (of = []));
    of.push(line);
  }
  return { byId, ended };
}

/** One segment of what a journal held of a recording; marked recovered when its instance crashed. */
function journalSegment(id: string, lines: string[], key: string, crashed: boolean): Segment | undefined {
  const start = lines.find((line) => parseFrameHeader(line)?.kind === FrameKind.start);
  if (!start) return undefined;
  const startedAt = (JSON.parse(start.slice(parseFrameHeader(start)!.payloadAt)) as { startedAt: number }).startedAt;
  let lastAt = startedAt;
  const body: string[] = [];
  for (const line of lines) {
    const h = parseFrameHeader(line)!;
    if (h.kind === FrameKind.start || h.kind === FrameKind.end || h.kind === FrameKind.leave) continue;
    body.push(line);
    lastAt = Math.max(lastAt, startedAt + h.t);
  }
  if (body.length === 0) return undefined;
  const marker = crashed ? [frame(id, FrameKind.recovered, 0, "", "0")] : [];
  return { recordingId: id, key, lastAt, text: [start, ...marker, ...body].join("\n") };
}
