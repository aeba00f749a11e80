/** The fidelity hash's HMAC in JavaScript is node:crypto's HMAC-SHA256, bit for bit. */

import { createHmac } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SHORT_HMAC_MAX_BYTES, shortHmac32 } from "./short_hmac.ts";

const reference = (key: string, message: Uint8Array) => createHmac("sha256", key).update(message).digest().readUInt32BE(0);

test("equals createHmac for every message length it takes, short and long keys (hashed first past 64 bytes)", () => {
  let compared = 0;
  for (const key of ["k", "k-" + "9".repeat(30), "x".repeat(64), "y".repeat(65), "ключ-🙂".repeat(20), crypto.randomUUID()]) {
    for (let length = 0; length <= SHORT_HMAC_MAX_BYTES; length++) {
      const message = crypto.getRandomValues(new Uint8Array(length));
      assert.is(shortHmac32(key, message), reference(key, message), `key ${key.length} chars, message ${length} bytes`);
      compared++;
    }
  }
  assert.is(compared, 6 * (SHORT_HMAC_MAX_BYTES + 1));
});

test("a different key or one bit of the message changes it (positive control for the comparison above)", () => {
  const message = new Uint8Array(20).fill(7);
  const base = shortHmac32("key-a", message);
  assert.is.not(shortHmac32("key-b", message), base);
  message[19] ^= 1;
  assert.is.not(shortHmac32("key-a", message), base);
});

test("refuses messages that need a second block", () => {
  assert.throws(() => shortHmac32("k", new Uint8Array(SHORT_HMAC_MAX_BYTES + 1)), /at most 55 bytes/);
});

test.run();
