/**
 * HMAC-SHA256 of a message shorter than 56 bytes (the fidelity hash's 20-byte
 * page digest, recorder/fidelity.ts), in plain JavaScript, with the key's two
 * padded blocks hashed once and kept.
 *
 * Why not `node:crypto`'s createHmac: creating the Hmac object (key schedule,
 * OpenSSL context) cost ~10 µs a recorded request under load, for two
 * SHA-256 compressions of work. With the key's inner and outer states kept,
 * the MAC of a short message is exactly two compressions (~1 µs here).
 *
 * Invariants, and why:
 * - The result is HMAC-SHA256 (RFC 2104) bit for bit: recordings stored with
 *   node:crypto's HMAC verify with this one and the other way round;
 *   recorder/short_hmac.test.ts compares the two on keys and messages of
 *   every length this accepts.
 * - Messages of 56 bytes or more are refused (they would need a second block):
 *   this is not a general SHA-256.
 * - Keys are remembered (a few: one per fidelity key in the process), never
 *   written anywhere.
 */

import { BoundedMemo } from "./bounded_memo.ts";

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** The largest message `shortHmac` takes: its padding must fit the same block. */
export const SHORT_HMAC_MAX_BYTES = 55;

interface KeyStates {
  inner: Int32Array;
  outer: Int32Array;
}
const keys = new BoundedMemo<KeyStates>(16);
const w = new Int32Array(64);
const block = new Uint8Array(64);
const state = new Int32Array(8);

/** The first 32 bits of HMAC-SHA256(key, message), `message` at most 55 bytes. */
export function shortHmac32(key: string, message: Uint8Array): number {
  if (message.length > SHORT_HMAC_MAX_BYTES) throw new RangeError(`shortHmac32 takes at most ${SHORT_HMAC_MAX_BYTES} bytes, got ${message.length}`);
  const k = keyStates(key);
  // Inner: H((K ^ ipad) || message), the key block already in `k.inner`.
  state.set(k.inner);
  block.fill(0);
  block.set(message);
  block[message.length] = 0x80;
  writeBitLength(64 + message.length);
  compress(state, block);
  // Outer: H((K ^ opad) || inner digest).
  block.fill(0);
  for (let i = 0; i < 8; i++) writeWord(block, i * 4, state[i]);
  state.set(k.outer);
  block[32] = 0x80;
  writeBitLength(64 + 32);
  compress(state, block);
  return state[0] >>> 0;
}

function keyStates(key: string): KeyStates {
  let found = keys.get(key);
  if (found) return found;
  let bytes: Uint8Array = new TextEncoder().encode(key);
  if (bytes.length > 64) bytes = sha256(bytes);
  const pad = (value: number) => {
    const padded = new Uint8Array(64).fill(value);
    for (let i = 0; i < bytes.length; i++) padded[i] ^= bytes[i];
    const s = new Int32Array(INITIAL);
    compress(s, padded);
    return s;
  };
  found = { inner: pad(0x36), outer: pad(0x5c) };
  keys.set(key, found);
  return found;
}

/** SHA-256 of any bytes: only for keys longer than a block (RFC 2104 hashes them first). */
function sha256(data: Uint8Array): Uint8Array {
  const s = new Int32Array(INITIAL);
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, data.length * 8);
  view.setUint32(padded.length - 8, Math.floor(data.length / 0x20000000));
  for (let at = 0; at < padded.length; at += 64) compress(s, padded.subarray(at, at + 64));
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) writeWord(out, i * 4, s[i]);
  return out;
}

function writeBitLength(bytes: number): void {
  writeWord(block, 60, bytes * 8);
}

function writeWord(into: Uint8Array, at: number, word: number): void {
  into[at] = word >>> 24;
  into[at + 1] = word >>> 16;
  into[at + 2] = word >>> 8;
  into[at + 3] = word;
}

/** One SHA-256 compression of a 64-byte block into `s` (FIPS 180-4, 6.2.2). */
function compress(s: Int32Array, b: Uint8Array): void {
  for (let i = 0; i < 16; i++) w[i] = (b[i * 4] << 24) | (b[i * 4 + 1] << 16) | (b[i * 4 + 2] << 8) | b[i * 4 + 3];
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15], y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = s[0], bb = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  s[0] = (s[0] + a) | 0;
  s[1] = (s[1] + bb) | 0;
  s[2] = (s[2] + c) | 0;
  s[3] = (s[3] + d) | 0;
  s[4] = (s[4] + e) | 0;
  s[5] = (s[5] + f) | 0;
  s[6] = (s[6] + g) | 0;
  s[7] = (s[7] + h) | 0;
}
