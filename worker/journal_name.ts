/**
 * A journal file's name says whose it is, and whether its owner is gone.
 *
 * Invariants, and why:
 * - `<pid namespace>-<pid>-<instance>.journal`: the pid says whether the owner
 *   is alive only when read from inside the same PID namespace (containers
 *   share pids; pids are reused), so the namespace is part of the name.
 * - A journal whose instance has not touched it for STALE_JOURNAL_MS is
 *   orphaned, whatever its pid says: live engines touch theirs every second
 *   (worker/journal.ts). Within one PID namespace a dead pid says so sooner.
 * - A `released-…` journal (worker/journal.ts RELEASED) was let go on a clean
 *   shutdown: free for any instance at once.
 * - The instance a journal belongs to can be read from its name, also once it
 *   was released or claimed for recovery (`recovering-<claimer>-<token>.<name>`
 *   keeps the name it had): recovery writes its frames under that instance's
 *   segment keys (worker/orphans.ts), also when the instance recovering it
 *   died too and another takes it over.
 */

import { readlink, stat } from "node:fs/promises";
import { randomToken } from "../format/mod.ts";
import { RELEASED } from "./journal.ts";
import { currentPid, processAlive } from "./runtime.ts";

/** A journal nobody touched for this long is orphaned (live engines touch theirs every second). */
export const STALE_JOURNAL_MS = 30_000;

/** This instance's journal file name. */
export async function journalName(instanceId: string): Promise<string> {
  return `${await pidNamespace()}-${await currentPid()}-${instanceId}.journal`;
}

/** Name prefix of a journal an instance claimed to recover it. */
const CLAIMED = "recovering-";

/** Whether `name` is a journal an instance claimed to recover it (claimedName). */
export function isClaimedName(name: string): boolean {
  return name.startsWith(CLAIMED);
}

/** The name `instanceId` claims the journal `name` under, to recover it: unique, and it keeps `name`. */
export function claimedName(instanceId: string, name: string): string {
  return `${CLAIMED}${instanceId}-${randomToken(8)}.${ownName(name)}`;
}

/** The instance whose engine wrote the journal `name`; undefined for a name this library did not make. */
export function journalOwner(name: string): string | undefined {
  return /^[0-9x]+-\d+-([A-Za-z0-9_-]{1,100})\.journal$/.exec(ownName(name))?.[1];
}

/** The name the journal's engine gave it (journalName): without what a release or a claim added. */
function ownName(name: string): string {
  const unreleased = name.startsWith(RELEASED) ? name.slice(RELEASED.length) : name;
  return unreleased.startsWith(CLAIMED) ? unreleased.slice(unreleased.indexOf(".") + 1) : unreleased;
}

let namespace: Promise<string> | undefined;
function pidNamespace(): Promise<string> {
  namespace ??= readlink("/proc/self/ns/pid").then(
    (link) => /\[(\d+)\]/.exec(link)?.[1] ?? "x",
    () => "x", // no /proc (macOS, Windows) or no permission: liveness by heartbeat only
  );
  return namespace;
}

/** When the file was last touched; now when it cannot be examined (gone meanwhile: the next scan sees). */
export function touchedAt(path: string): Promise<number> {
  return stat(path).then((s) => s.mtimeMs, () => Date.now());
}

/** Whether the journal `name` at `path` belongs to an instance that is gone (released, stale, or a dead pid here). */
export async function isOrphan(name: string, path: string): Promise<boolean> {
  if (name.startsWith(RELEASED)) return true;
  const [ns, pidText] = name.split("-");
  if (Date.now() - (await touchedAt(path)) > STALE_JOURNAL_MS) return true;
  const pid = Number(pidText);
  if (ns === "x" || ns !== (await pidNamespace()) || !Number.isInteger(pid) || pid <= 0) return false;
  return !(await processAlive(pid));
}
