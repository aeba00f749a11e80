/**
 * The per-frame fidelity hash: what lets replay prove a re-rendered frame is
 * byte-identical to the page that was served.
 *
 * Why it is keyed: a hash of the served HTML is an oracle for whatever the
 * sanitizer removed. Someone holding a recording (a download, an export, a
 * copy of the storage) can re-render the frame with each guess for a dropped
 * field — 10,000 guesses for a 4-digit PIN — and keep the one whose hash
 * matches. So:
 *
 * - With a key (`fidelityKey`, else `HONO_REPLAY_FIDELITY_KEY`, else derived
 *   from `secret` / `HONO_REPLAY_SECRET`), every frame stores `&` + 32 bits of
 *   HMAC-SHA256(key, pageDigest(html)). Without the key a guess cannot be
 *   tested; the key is never stored with recordings. Every instance and every
 *   process that replays must have the same key.
 * - Why the HMAC takes the page's 160-bit digest (page_digest.ts) and not the
 *   page: SHA-256 over a served page's UTF-8 was a fifth of everything a
 *   recorded request cost (83,000 instructions in SHA-256 and 24,000 in UTF-8
 *   conversion per 2.7 KB page, counted with valgrind in bench/request's
 *   scenario); the digest costs about a microsecond and the HMAC then hashes 20
 *   bytes (in JavaScript with the key's states kept: short_hmac.ts). The digest
 *   needs no key to compute, but the stored value does: it is still no oracle.
 * - Older forms still verify: `%` (the HMAC over a four-lane FNV digest of the
 *   UTF-16 units, `contentDigest` in format/ids.ts: six times slower), `#`
 *   (the HMAC over the page itself), and a bare base-36 plain hash (`shortHash`).
 * - Without a configured key, a frame stores the plain hash, `=` + the digest
 *   folded to 32 bits (`pageHash`), only when
 *   its assigns came through the default sanitizer whole (`isExactCopy`): that
 *   page is a function of the stored assigns alone, so its hash tells nothing
 *   they do not. A frame from which anything was removed is hashed with a
 *   random key of this process, kept in memory only: this process (its
 *   dashboard) verifies it, any other process reports it as unknown — never
 *   as an oracle.
 *
 * Verification follows the stored form: `&…`, `%…` and `#…` need the key
 * (without it the frame is unknown, never "differs"); `=…` and a bare plain
 * hash need none, so recordings made before keys existed still verify.
 */

import { createHmac } from "node:crypto";
import { contentDigest, shortHash } from "../format/mod.ts";
import { pageDigest, pageHash } from "./page_digest.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { shortHmac32 } from "./short_hmac.ts";

/** HMAC over the page's digest (see the header). */
const KEYED = "&";
/** The page's digest folded to 32 bits, unkeyed. */
const PLAIN = "=";
/** HMAC over the FNV digest of the page's UTF-16 units: frames recorded before the current digest. */
const KEYED_FNV = "%";
/** HMAC over the page itself: frames recorded before any digest. */
const KEYED_PAGE = "#";

/** Whether a stored hash needs the key to verify (it proves nothing to whoever lacks it). */
export function isKeyedHash(hash: string): boolean {
  return hash.startsWith(KEYED) || hash.startsWith(KEYED_FNV) || hash.startsWith(KEYED_PAGE);
}

/** The key to use: the option, the environment, derived from the session secret, or none. */
export function resolveFidelityKey(option: string | undefined, secret: string | undefined, logger: Logger = consoleLogger): string | undefined {
  const key = option ?? env("HONO_REPLAY_FIDELITY_KEY", logger);
  if (key) return key;
  return secret ? createHmac("sha256", secret).update("hono-replay fidelity key v1").digest("base64url") : undefined;
}

/**
 * What the recorder stores for a served page (see the header): keyed when the
 * key is configured or the assigns lost something, else the plain hash.
 */
export function fidelityHash(html: string, key: string, configured: boolean, exact: boolean): string {
  return configured || !exact ? keyedHash(html, key) : PLAIN + pageHash(html);
}

/** true: identical; false: differs; undefined: cannot tell (no hash, or a keyed one and no key). */
export function verifyFidelity(html: string, expected: string | undefined, key: string | undefined): boolean | undefined {
  if (expected === undefined) return undefined;
  if (expected.startsWith(PLAIN)) return PLAIN + pageHash(html) === expected;
  if (!isKeyedHash(expected)) return shortHash(html) === expected;
  if (key === undefined) return undefined;
  const computed = expected.startsWith(KEYED) ? keyedHash(html, key) : expected.startsWith(KEYED_FNV) ? keyedFnvHash(html, key) : keyedPageHash(html, key);
  return computed === expected;
}

function keyedHash(html: string, key: string): string {
  // HMAC-SHA256, with the key's states kept (short_hmac.ts): creating a node:crypto Hmac cost more than hashing.
  return KEYED + shortHmac32(key, pageDigest(html)).toString(36);
}

function keyedFnvHash(html: string, key: string): string {
  return KEYED_FNV + shortHmac32(key, contentDigest(html)).toString(36);
}

function keyedPageHash(html: string, key: string): string {
  const mac = createHmac("sha256", key).update(html).digest();
  return KEYED_PAGE + mac.readUInt32BE(0).toString(36);
}

/** An environment variable, on Node and Deno; undefined where reading it is not allowed. */
export function env(name: string, logger: Logger = consoleLogger): string | undefined {
  const deno = (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno;
  try {
    return deno ? deno.env.get(name) : process.env[name];
  } catch (error) {
    // Deno without --allow-env: the option must be given in code instead.
    if (!warnedEnv) {
      warnedEnv = true;
      logger.warn(`cannot read ${name} (${(error as Error)?.message ?? error}); pass the option to createReplay instead`);
    }
    return undefined;
  }
}
let warnedEnv = false;
