/**
 * A real full disk for tests: a small tmpfs mounted by the test, as root.
 *
 * Invariants, and why:
 * - Whether a tmpfs can be mounted is decided once, synchronously, by mounting
 *   and unmounting a probe (not by guessing from the uid: a container may be
 *   root without CAP_SYS_ADMIN). Where it cannot, the tests that need it are
 *   registered as skipped with the reason (tests/support/skip.ts), so
 *   REQUIRE_ALL_TESTS=1 fails instead of passing them silently. CI runs as
 *   root, where they run.
 * - Every mount is unmounted by the test's `finally` (lazily, `-l`, so a file
 *   a killed process still holds open cannot keep it mounted), and its
 *   mount point removed.
 * - `fill` writes until the disk says ENOSPC and returns that error: the
 *   positive control that the disk really is full.
 */

import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, rmdirSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export interface Tmpfs {
  dir: string;
  /** Writes `name` until ENOSPC; returns the error's code (the caller asserts it). */
  fill(name?: string): string;
  /** Removes what `fill` wrote. */
  free(name?: string): void;
  /** Every file under the mount, with its size, relative paths. */
  files(): { path: string; size: number }[];
  unmount(): void;
}

let probed: string | undefined | null = null;

/** Why no tmpfs can be mounted here, or undefined when one can. */
export function tmpfsUnavailable(): string | undefined {
  if (probed !== null) return probed;
  if (process.platform !== "linux") return (probed = `tmpfs mounts need Linux (this is ${process.platform})`);
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-tmpfs-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdio: "pipe" });
    execFileSync("umount", [dir], { stdio: "pipe" });
    probed = undefined;
  } catch (error) {
    probed = `cannot mount a tmpfs (run as root with mount(8)): ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`;
  } finally {
    rmdirSync(dir);
  }
  return probed;
}

/** Mounts a tmpfs of `size` (mount(8) syntax: "2m", "64k"). */
export function mountTmpfs(size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
  // The store is live while a test lists it: an entry it removes between the listing and the
  // read (a released claim's directory, a renamed temporary file) is left out, not an error.
  const walk = (rel: string): { path: string; size: number }[] =>
    unlessGone(() => readdirSync(join(dir, rel), { withFileTypes: true }), []).flatMap((entry) => {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return walk(path);
      const size = unlessGone(() => statSync(join(dir, path)).size, undefined);
      return size === undefined ? [] : [{ path, size }];
    });
  return {
    dir,
    fill(name = "filler") {
      const fd = openSync(join(dir, name), "a");
      try {
        // Large writes until the disk refuses, then single bytes: whatever the last page had room for.
        for (const size of [16 * 1024, 1]) {
          const chunk = new Uint8Array(size).fill(120);
          try {
            for (;;) writeSync(fd, chunk);
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code ?? String(error);
            if (code !== "ENOSPC") return code;
          }
        }
        return "ENOSPC";
      } finally {
        closeSync(fd);
      }
    },
    free(name = "filler") {
      rmSync(join(dir, name), { force: true });
    },
    files: () => walk(""),
    unmount() {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      rmdirSync(dir);
    },
  };
}

/** `read()`, or `gone` when what it reads was removed meanwhile (ENOENT). */
function unlessGone<T>(read: () => T, gone: T): T {
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return gone;
    throw error;
  }
}
