/**
 * What the worker host (host.ts) tells the app, and how often.
 *
 * Invariants, and why:
 * - A warning from the engine that repeats (the same text but for ids and
 *   numbers, like one per recording while the storage is down) is logged once
 *   and then only counted (`RepeatedWarnings`); close() says how many were not
 *   logged. The host's own warnings (a worker died, the fallback, what close
 *   could not do) are rare and always logged.
 * - Every message says what happened and what to do: which directory to free
 *   or grant, which option to set.
 */

import type { EngineStats } from "./engine_types.ts";
import { isDeno } from "./runtime.ts";

/** Passes a warning on once; later ones that differ only in ids and numbers are counted. */
export class RepeatedWarnings {
  private readonly seen = new Map<string, number>();
  /** Warnings not passed on because the same one was before. */
  suppressed = 0;

  constructor(private readonly warn: (message: string) => void) {}

  report(message: string): void {
    const key = message.replace(/[\w.-]*\d[\w.-]*/g, "#");
    const seen = this.seen.get(key) ?? 0;
    this.seen.set(key, seen + 1);
    if (seen === 0) this.warn(message);
    else this.suppressed++;
  }
}

/** What close() could not save, from the engine's last stats; undefined when everything was. */
export function unsaved(stats: EngineStats | undefined, journalDir: string | undefined): string | undefined {
  const held = stats?.waitingForStorage ?? 0;
  if (held === 0) return undefined;
  const what = `${held} recording(s) could not be saved (the storage did not take them before close() ended: see the warnings above)`;
  if (stats?.journalFailure) {
    return `${what}, and the crash journal could not be written either (${stats.journalFailure}): their frames end with this process. Free space in ${journalDir} and in the storage`;
  }
  if (journalDir) return `${what}; their frames wait in the journal directory ${journalDir} for the next start to deliver`;
  return `${what}; without a journal directory their frames end with this process`;
}

/** The one warning of the fallback to the in-process engine: what happened, and what to change. */
export function fallbackWarning(f: { reason: string; wasReady: boolean; tries: number; windowS: string; firstFailure?: string; note: string; journalDir?: string }): string {
  const what = f.wasReady ? `kept dying (${f.tries} times in ${f.windowS} s)` : `could not start (${f.tries} tries in ${f.windowS} s)`;
  const first = f.firstFailure && f.firstFailure !== f.reason ? `; first failure: ${f.firstFailure}` : "";
  return `the persistence worker ${what}: ${f.reason}${first}. Recordings are now drained in the request thread${f.note}. ` +
    `To run the worker, ${fixHint(f.reason, f.journalDir)} and restart; to choose the in-process engine and not see this, pass worker: false.`;
}

/** What to change so that a worker can run, from what stopped it. */
function fixHint(reason: string, journalDir: string | undefined): string {
  const journal = journalDir ? ` and the journal directory ${journalDir}` : "";
  if (isDeno && /--allow-|NotCapable|PermissionDenied/.test(reason)) {
    return `grant Deno --allow-read for this package's files and --allow-read --allow-write for the storage${journal}`;
  }
  return `make sure the storage${journal} can be written (a directory, not a file; permissions; disk space)`;
}
