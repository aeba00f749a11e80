/**
 * The page digest behind the fidelity hash: the same value on every runtime
 * (a fixed vector, checked on Node and Deno), every one-unit change and every
 * length told apart, and strings built by concatenation hashed as their flat copy.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { pageDigest, pageHash } from "./page_digest.ts";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

test("a fixed vector: the digest does not depend on the runtime or the host's byte order", () => {
  const page = "<!DOCTYPE html><p class=\"x\">Grüße, 日本 😀</p>" + "x".repeat(37);
  assert.is(hex(pageDigest(page)), FIXED_DIGEST);
  assert.is(pageHash(page), FIXED_HASH);
  assert.is(hex(pageDigest("")).slice(32), "00000000", "the length word");
});

test("every one-unit change and every length changes the digest; a concatenated string hashes as its flat copy", () => {
  const page = Array.from({ length: 301 }, (_, i) => String.fromCharCode(32 + ((i * 7) % 90))).join("") + "é€😀";
  const digest = hex(pageDigest(page));
  const seen = new Set([digest]);
  for (let i = 0; i < page.length; i++) {
    for (const flip of [1, 0x80, 0x4000]) {
      const changed = page.slice(0, i) + String.fromCharCode(page.charCodeAt(i) ^ flip) + page.slice(i + 1);
      const d = hex(pageDigest(changed));
      assert.is.not(d, digest, `unit ${i} ^ ${flip}`);
      seen.add(d);
    }
  }
  for (let n = 0; n <= 40; n++) seen.add(hex(pageDigest("\0".repeat(n))));
  assert.is(seen.size, 1 + page.length * 3 + 41, "all distinct");
  let built = "";
  for (const part of page.match(/.{1,7}/gsu)!) built += part;
  assert.is(hex(pageDigest(built)), digest);
});

test("pages larger than the kept buffer hash like small ones", () => {
  const big = "<li>row</li>".repeat(100_000);
  const a = hex(pageDigest(big));
  assert.is(hex(pageDigest("<p>small</p>")).length, 40);
  assert.is(hex(pageDigest(big)), a);
  assert.is.not(hex(pageDigest(big + " ")), a);
});

const FIXED_DIGEST = "227e9b30b176775df5f23ff16e8e094851000000";
const FIXED_HASH = "7cxdzm";

test.run();
