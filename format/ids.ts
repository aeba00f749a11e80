import { InvalidIdError } from "./errors.ts";

const ID = /^[A-Za-z0-9_-]{1,100}$/;

/** Time-ordered (sorts by start), unguessable, safe as a file name and a URL segment. */
export function newRecordingId(now = Date.now()): string {
  return now.toString(36).padStart(9, "0") + "-" + randomToken(12);
}

export function randomToken(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += alphabet[b % 36];
  return out;
}

export function isValidId(id: unknown): id is string {
  return typeof id === "string" && ID.test(id);
}

/** Throws InvalidIdError for anything that could escape a directory or a key space. */
export function assertValidId(id: unknown): string {
  if (!isValidId(id)) throw new InvalidIdError(id);
  return id;
}

/**
 * A 32-bit hash in base 36, for HTML fidelity and session keys. FNV-1a steps in
 * four independent lanes (the CPU runs them in parallel: a served page hashes
 * about three times faster than with one lane), then a murmur-style finish.
 *
 * The four-lane loop is a function of its own that does nothing after its
 * loop: V8 (Node 20) optimizes a long first call (the dashboard's bundle) on
 * stack, caches that code for the loop, and re-enters it on every later call;
 * code after the loop, compiled before it ever ran, then deoptimized on nearly
 * every call (a served page cost ~50 µs to hash instead of ~4).
 */
export function shortHash(text: string): string {
  const n = text.length;
  const body = n - (n & 3);
  fnvLanes(text, body);
  let a = lanes[0];
  for (let i = body; i < n; i++) a = Math.imul(a ^ text.charCodeAt(i), 0x01000193);
  let h = Math.imul(a ^ (lanes[1] >>> 15), 0x5bd1e995) ^ Math.imul(lanes[2] ^ (lanes[3] >>> 13), 0x27d4eb2f) ^ n;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return ((h ^ (h >>> 13)) >>> 0).toString(36);
}

/**
 * 160 bits that change whenever `text` does (the four lanes, the tail folded
 * into the first, and the length): the digest of the `%` fidelity hashes
 * (recorder/fidelity.ts), kept to verify frames stored with it; new frames use
 * recorder/page_digest.ts, six times faster. Not collision-resistant against someone who
 * picks the text; it only has to tell a re-render from the page served. The
 * bytes are a view of one buffer that the next call overwrites: use them at once.
 */
export function contentDigest(text: string): Uint8Array {
  const n = text.length;
  const body = n - (n & 3);
  fnvLanes(text, body);
  let a = lanes[0];
  for (let i = body; i < n; i++) a = Math.imul(a ^ text.charCodeAt(i), 0x01000193);
  digestWords.set(lanes);
  digestWords[0] = a;
  digestWords[4] = n;
  return digestBytes;
}
const digestWords = new Int32Array(5);
const digestBytes = new Uint8Array(digestWords.buffer);

/** The four lanes' state, written by `fnvLanes`. */
const lanes = new Int32Array(4);

/** FNV-1a over text[0, end) in four lanes (`end` a multiple of 4), into `lanes`; nothing runs after the loop. */
function fnvLanes(text: string, end: number): void {
  let a = (lanes[0] = 0x811c9dc5 | 0);
  let b = (lanes[1] = 0x9e3779b9 | 0);
  let c = (lanes[2] = 0x85ebca6b | 0);
  let d = (lanes[3] = 0xc2b2ae35 | 0);
  for (let i = 0; i < end; i += 4) {
    lanes[0] = a = Math.imul(a ^ text.charCodeAt(i), 0x01000193);
    lanes[1] = b = Math.imul(b ^ text.charCodeAt(i + 1), 0x01000193);
    lanes[2] = c = Math.imul(c ^ text.charCodeAt(i + 2), 0x01000193);
    lanes[3] = d = Math.imul(d ^ text.charCodeAt(i + 3), 0x01000193);
  }
}
