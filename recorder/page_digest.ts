/**
 * The digest of a served page that the fidelity hash is computed from
 * (fidelity.ts): 160 bits that change whenever the page does.
 *
 * Why this shape. The page is hashed on the request thread for every recorded
 * frame, so it must cost little next to rendering it:
 * - The page's UTF-16 code units are copied into a buffer kept between calls
 *   (`Buffer#write(…, "utf16le")`: native, it flattens a concatenated string and
 *   copies at memory speed, ~0.5 µs for a 2.7 KB page; UTF-8 through
 *   `encodeInto` cost ~2 µs, `charCodeAt` over the unflattened string ~6), then
 *   hashed four bytes at a time through an `Int32Array` view.
 * - Four independent xxHash32 lanes over 16-byte stripes (the CPU runs them in
 *   parallel). Each round is a bijection of its lane for a given word, so a
 *   page differing in one word always differs in its digest; the length is the
 *   fifth word, so the zero padding cannot collide with trailing NULs.
 * It replaces the four-lane FNV over `charCodeAt` (`contentDigest` in
 * format/ids.ts, kept to verify frames stored with it): 6.5 → 1 µs a page.
 *
 * Not collision-resistant against someone who picks the page: it only has to
 * tell a re-render from the page served, and the keyed hash over it is what
 * keeps it from being an oracle. The same value on every runtime: words are
 * read little-endian (a big-endian host swaps the bytes first).
 *
 * Server-side only (node:buffer); the returned bytes are a view of one buffer
 * that the next call overwrites: use them at once.
 */

import { Buffer } from "node:buffer";

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;

/** Pages longer than this (bytes of UTF-16) are copied into a buffer that is not kept. */
const KEPT_BUFFER_BYTES = 1 << 20;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

let kept = Buffer.alloc(16 * 1024);
/** `kept` as words, so a page that fits allocates nothing. */
let keptWords = wordsOf(kept);
const lanes = new Int32Array(4);
const digestView = new DataView(new ArrayBuffer(20));
const digestBytes = new Uint8Array(digestView.buffer);

/** 160 bits of `text`: four lanes over its UTF-16LE code units and their count, little-endian. */
export function pageDigest(text: string): Uint8Array {
  const n = text.length * 2;
  const end = (n + 15) & ~15;
  let buffer = kept;
  if (buffer.length < end) {
    buffer = Buffer.alloc(Math.max(end, buffer.length * 2));
    if (buffer.length <= KEPT_BUFFER_BYTES) {
      kept = buffer;
      keptWords = wordsOf(buffer);
    }
  }
  buffer.write(text, 0, n, "utf16le");
  buffer.fill(0, n, end);
  if (!LITTLE_ENDIAN) swapWords(buffer, end);
  stripes(buffer === kept ? keptWords : wordsOf(buffer), end >> 2);
  for (let i = 0; i < 4; i++) digestView.setInt32(i * 4, lanes[i], true);
  digestView.setInt32(16, text.length, true);
  return digestBytes;
}

/** The digest folded to 32 bits, base 36: the unkeyed page hash. */
export function pageHash(text: string): string {
  pageDigest(text);
  let h = digestView.getInt32(16, true);
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ digestView.getInt32(i * 4, true), P1) ^ (h >>> 15);
  h = Math.imul(h ^ (h >>> 16), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return ((h ^ (h >>> 16)) >>> 0).toString(36);
}

/**
 * xxHash32 rounds over the first `count` words (a multiple of four: 16-byte stripes) into `lanes`. Nothing runs after the
 * loop (see `shortHash` in ids.ts: V8 caches the on-stack-replaced loop and
 * code after it deoptimized on nearly every call), so each round stores its lane.
 */
function stripes(words: Int32Array, count: number): void {
  let a = (lanes[0] = (P1 + P2) | 0);
  let b = (lanes[1] = P2);
  let c = (lanes[2] = 0);
  let d = (lanes[3] = -P1 | 0);
  for (let i = 0; i < count; i += 4) {
    a = (a + Math.imul(words[i], P2)) | 0;
    lanes[0] = a = Math.imul((a << 13) | (a >>> 19), P1);
    b = (b + Math.imul(words[i + 1], P2)) | 0;
    lanes[1] = b = Math.imul((b << 13) | (b >>> 19), P1);
    c = (c + Math.imul(words[i + 2], P2)) | 0;
    lanes[2] = c = Math.imul((c << 13) | (c >>> 19), P1);
    d = (d + Math.imul(words[i + 3], P2)) | 0;
    lanes[3] = d = Math.imul((d << 13) | (d >>> 19), P1);
  }
}

function wordsOf(buffer: Buffer): Int32Array {
  return new Int32Array(buffer.buffer, buffer.byteOffset, buffer.length >> 2);
}

function swapWords(bytes: Uint8Array, end: number): void {
  for (let i = 0; i < end; i += 4) {
    const b0 = bytes[i], b1 = bytes[i + 1];
    bytes[i] = bytes[i + 3];
    bytes[i + 1] = bytes[i + 2];
    bytes[i + 2] = b1;
    bytes[i + 3] = b0;
  }
}
