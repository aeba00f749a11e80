/**
 * The journal directory is private to the app, and a journal is delivered to
 * the store only if this app wrote it.
 *
 * A journal holds what users typed, and whatever a journal in the directory
 * says is put into the store as a recording (worker/engine.ts recoverOrphans).
 * So, invariants:
 * - The journal directory is owned by this process's user, is not a symbolic
 *   link, and has no group or other permissions: a directory of ours with more
 *   is tightened to 0700, one of another user's is refused.
 * - No other user can replace it: every directory above it belongs to this
 *   user or to root, and is writable by no one else unless it is sticky (like
 *   /tmp, where others cannot rename what is ours). The default directory for
 *   database storages (options.ts) is `<tmp>/hono-replay-<uid>/<storage hash>`,
 *   which passes this where a shared `<tmp>/hono-replay-journal` could be
 *   created first, and filled, by anyone.
 * - A journal file is read for delivery only when it is a regular file (not a
 *   link) owned by this user with no group or other permissions, as every
 *   journal this library writes is (0600). Anything else is left where it is,
 *   and said once.
 *
 * Where the platform has no user ids (Windows) or the runtime may not ask for
 * them (Deno without --allow-sys), ownership is not checked; the rest is.
 */

import { chmodSync, lstatSync, mkdirSync, type Stats, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { ReplayError } from "../format/mod.ts";

const STICKY = 0o1000;

/** This process's user id, or undefined where there is none (or it may not be asked for). */
export function currentUid(): number | undefined {
  try {
    return typeof process.getuid === "function" ? process.getuid() : undefined;
  } catch {
    return undefined; // Deno without --allow-sys: ownership goes unchecked, the modes are still checked
  }
}

/** Creates `dir` (0700) if needed and checks that it is private; throws a ReplayError saying what to change if it is not. */
export function ensurePrivateDir(dir: string): void {
  const path = resolve(dir);
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (process.platform === "win32") return;
  const uid = currentUid();
  const own = lstatSync(path);
  if (own.isSymbolicLink() || !own.isDirectory()) {
    throw new ReplayError(`the journal directory ${path} is ${own.isSymbolicLink() ? "a symbolic link" : "not a directory"}: remove it, or set \`journal\` to a directory of this app's own`);
  }
  if (uid !== undefined && own.uid !== uid) {
    throw new ReplayError(`the journal directory ${path} belongs to user ${own.uid}, not to this process's user ${uid}, who could read or plant journals there: remove it, or set \`journal\` to a directory of this app's own`);
  }
  if (own.mode & 0o077) chmodSync(path, 0o700);
  for (let above = dirname(path); ; above = dirname(above)) {
    const info = statAbove(above);
    // Deno allowed to read only the storage: the directories above cannot be examined; the journal's own was.
    if (!info) return;
    const problem = replaceableBy(info, uid);
    if (problem) {
      throw new ReplayError(`the journal directory ${path} is not private: ${above} ${problem}, so another user could replace the journal directory; set \`journal\` to a directory of this app's own, or fix that directory's owner or mode`);
    }
    if (dirname(above) === above) return;
  }
}

/** Why others could rename entries of this directory (ours), or undefined when they cannot. */
/** The directory's stat, or undefined when Deno's permissions do not allow reading it. */
function statAbove(dir: string): Stats | undefined {
  try {
    return statSync(dir);
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === "NotCapable" || name === "PermissionDenied") return undefined;
    throw error;
  }
}

function replaceableBy(info: Stats, uid: number | undefined): string | undefined {
  if (uid !== undefined && info.uid !== uid && info.uid !== 0) return `belongs to user ${info.uid}`;
  if (info.mode & 0o022 && !(info.mode & STICKY)) return `is writable by ${info.mode & 0o002 ? "every user" : "its group"}`;
  return undefined;
}

/** Why the journal file at `path` must not be delivered, or undefined when this app wrote it. */
export function untrustedJournal(path: string): string | undefined {
  if (process.platform === "win32") return undefined;
  let info: Stats;
  try {
    info = lstatSync(path);
  } catch (error) {
    return `it cannot be examined (${(error as Error).message})`;
  }
  if (!info.isFile()) return info.isSymbolicLink() ? "it is a symbolic link" : "it is not a regular file";
  const uid = currentUid();
  if (uid !== undefined && info.uid !== uid) return `it belongs to user ${info.uid}, not to this process's user ${uid}`;
  if (info.mode & 0o077) return `its mode is ${(info.mode & 0o777).toString(8)}, where every journal this library writes is 600`;
  return undefined;
}
