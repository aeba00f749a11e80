/**
 * Finalize claims of a file storage (file.ts): the lease to finalize a
 * recording.
 *
 *   <path>/claims/<id>/<generation>     {"owner","until","nonce"}
 *
 * Invariants, and why:
 * - A claim is a sequence of generation files, each created exclusively
 *   (link(2) of a complete temporary file, so it appears whole or not at all).
 *   The highest generation is the claim.
 * - To claim, an instance reads the highest generation g; if another owner
 *   holds it unexpired, it loses; otherwise it creates g+1. Of instances
 *   racing from the same g only one creates g+1. The winner then checks that
 *   g+1 is still the highest and g is still there with the content it read: a
 *   creation based on a stale view (g pruned or released meanwhile) fails that
 *   check, removes its file and looks again. So exactly one of racers wins,
 *   renewal (the owner creating g+1) races takeover fairly, and nothing relies
 *   on a process id.
 * - Older generations are pruned by the winner; release removes all of them
 *   and the directory. A temporary file a claimer left by dying is pruned once
 *   older than ABANDONED_MS.
 * - Claim directories are 0o700 and claim files 0o600 (file_io.ts).
 */

import { link, mkdir, readdir, readFile, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assertValidId, randomToken } from "../format/mod.ts";
import { ABANDONED_MS, DIR_MODE, errnoOf, type FileContext, FILE_MODE, tolerate } from "./file_io.ts";

/** Claim rounds before giving up; each lost one to another instance changing the claim. */
const CLAIM_ATTEMPTS = 50;

interface Claim {
  owner: string;
  until: number;
}

/** Everything in one recording's claim directory. */
const listClaim = (claimDir: string) => readdir(claimDir).catch(tolerate([] as string[], "ENOENT", "ENOTDIR"));

/** The generations among `names`, lowest first. */
const generationsIn = (names: string[]) => names.filter((name) => /^\d{1,15}$/.test(name)).map(Number).sort((a, b) => a - b);

/** The generations of one recording's claim, lowest first. */
async function generations(claimDir: string): Promise<number[]> {
  return generationsIn(await listClaim(claimDir));
}

const readGeneration = (claimDir: string, generation: number) =>
  readFile(join(claimDir, String(generation)), "utf8").catch(tolerate(undefined, "ENOENT"));

const isAbandoned = (path: string) => stat(path).then((info) => Date.now() - info.mtimeMs > ABANDONED_MS, tolerate(false, "ENOENT"));

/** Creates generation `generation` whole, or not at all; false when it exists (or the directory was just released). */
async function createGeneration(claimDir: string, generation: number, content: string): Promise<boolean> {
  await mkdir(claimDir, { recursive: true, mode: DIR_MODE });
  const temp = join(claimDir, `.tmp-${randomToken(8)}`);
  const written = await writeFile(temp, content, { flag: "wx", mode: FILE_MODE }).then(() => true, async (error) => {
    const code = errnoOf(error);
    if (code === "ENOENT") return false; // a release removed the directory after our mkdir: look again
    // Created, then not written (a full disk): not left behind. EEXIST: the name is another claimer's.
    if (code !== "EEXIST") {
      await unlink(temp).catch(tolerate(undefined, "ENOENT")).catch((cleanup) => {
        throw new AggregateError([error, cleanup], `hono-replay: could not write the claim file ${temp}, nor remove it`);
      });
    }
    throw error;
  });
  if (!written) return false;
  try {
    await link(temp, join(claimDir, String(generation)));
    return true;
  } catch (error) {
    if (errnoOf(error) === "EEXIST") return false;
    throw new Error(
      `hono-replay: could not create the claim ${join(claimDir, String(generation))} (${(error as Error).message}); claims need hard links: keep the storage directory on a local filesystem or a volume that supports link(2) (ext4, xfs, btrfs, NFS)`,
      { cause: error },
    );
  } finally {
    await unlink(temp).catch(tolerate(undefined, "ENOENT"));
  }
}

/**
 * Removes the generations below the claim, and temporary files their creators
 * left by dying; `names`, a listing already made (one made since would add only
 * live claimers' temporary files, which stay).
 */
async function pruneClaim(claimDir: string, below: number, names?: string[]): Promise<void> {
  names ??= await listClaim(claimDir);
  for (const name of names) {
    if (/^\d{1,15}$/.test(name) ? Number(name) < below : name.startsWith(".tmp-") && (await isAbandoned(join(claimDir, name)))) {
      await unlink(join(claimDir, name)).catch(tolerate(undefined, "ENOENT"));
    }
  }
}

export class FileClaims {
  private readonly root: string;

  constructor(private readonly ctx: FileContext) {
    this.root = join(ctx.root, "claims");
  }

  /** `<path>/claims`: removed whole by `clear()`. */
  get directory(): string {
    return this.root;
  }

  /** `<path>/claims/<id>`: removed whole when the recording is deleted. */
  dirOf(id: string): string {
    return join(this.root, assertValidId(id));
  }

  async claim(recordingId: string, owner: string, ttlMs: number): Promise<boolean> {
    const claimDir = this.dirOf(recordingId);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      // Lost rounds mean others are changing this claim right now: let them finish.
      if (attempt >= 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 * attempt, 50)));
      const before = await generations(claimDir);
      const top = before.at(-1) ?? 0;
      let base: string | undefined;
      if (top > 0) {
        base = await readGeneration(claimDir, top);
        if (base === undefined) continue; // pruned or released meanwhile
        const held = this.parse(base, join(claimDir, String(top)));
        if (held.owner !== owner && held.until > Date.now()) return false;
      }
      const mine = top + 1;
      if (!(await createGeneration(claimDir, mine, JSON.stringify({ owner, until: Date.now() + ttlMs, nonce: randomToken(12) })))) continue;
      // Won `mine`, but on what we read: it must still be the highest, and
      // what we read must still be there unchanged (not pruned by a later
      // winner, not released and then recreated).
      const after = await generations(claimDir);
      if (after.at(-1) === mine && (top === 0 || (await readGeneration(claimDir, top)) === base)) {
        if (after.length > 1) await pruneClaim(claimDir, mine);
        return true;
      }
      await unlink(join(claimDir, String(mine))).catch(tolerate(undefined, "ENOENT"));
    }
    this.ctx.logger.warn(`gave up claiming ${recordingId} for ${owner} after ${CLAIM_ATTEMPTS} rounds lost to other instances; it stays with whoever holds it`);
    return false;
  }

  async release(recordingId: string, owner: string): Promise<void> {
    const claimDir = this.dirOf(recordingId);
    const names = await listClaim(claimDir);
    const gens = generationsIn(names);
    const top = gens.at(-1);
    if (top === undefined) return;
    const text = await readGeneration(claimDir, top);
    if (text === undefined || this.parse(text, join(claimDir, String(top))).owner !== owner) return;
    // Lowest first, the claim itself last; then the directory, unless a
    // claimer is creating the next generation in it right now.
    for (const generation of gens) await unlink(join(claimDir, String(generation))).catch(tolerate(undefined, "ENOENT"));
    await pruneClaim(claimDir, 0, names);
    await rmdir(claimDir).catch(tolerate(undefined, "ENOENT", "ENOTEMPTY", "EEXIST"));
  }

  /** A generation's content; one that is not a claim counts as expired, loudly. */
  private parse(text: string, where: string): Claim {
    let problem = "no owner and until";
    try {
      const { owner, until } = JSON.parse(text) ?? {};
      if (typeof owner === "string" && typeof until === "number") return { owner, until };
    } catch (error) {
      problem = (error as Error).message;
    }
    this.ctx.logger.warn(`${where} is not a claim (${problem}); treating it as expired`);
    return { owner: "", until: 0 };
  }
}
