/**
 * The finalize lease (storage/types.ts `claim`, `release`) and the store's
 * shared secret in Deno KV.
 *
 * Invariant: each write is one atomic operation checked against the value as
 * read (none, for a key that is not there): of instances racing, one commit
 * passes and the others read again.
 */

import { assertValidId, randomToken } from "../../format/mod.ts";
import type { RecordingStorage } from "../types.ts";
import { decodeClaim, decoder, encodeJson, encoder } from "./codec.ts";
import { type KvContext, RACE_RETRIES } from "./kv.ts";

/** How long past its `until` an abandoned claim stays in the database before KV expires it. */
const CLAIM_GRACE_MS = 3_600_000;

type ClaimMethods = Pick<Required<RecordingStorage>, "claim" | "release" | "sharedSecret">;

export function claimMethods(ctx: KvContext): ClaimMethods {
  return {
    async claim(recordingId, owner, ttlMs) {
      assertValidId(recordingId);
      const db = await ctx.db();
      const key = db.keys.claim(recordingId);
      for (let attempt = 0; attempt <= RACE_RETRIES; attempt++) {
        const entry = await db.get(key);
        const held = decodeClaim(entry.value);
        const now = Date.now();
        if (held && held.owner !== owner && held.until > now) return false;
        const ttl = Math.max(0, Math.ceil(ttlMs));
        // Checked against the claim as read (null: none): of racing instances, one commit passes; the others read again.
        const value = encodeJson({ owner, until: now + ttl });
        if ((await db.commitOp((op) => op.check(entry).set(key, value, { expireIn: ttl + CLAIM_GRACE_MS }))).ok) return true;
      }
      throw new Error(`denoKvStorage: the claim on recording ${recordingId} kept changing while it was taken`);
    },

    async release(recordingId, owner) {
      const db = await ctx.db();
      const key = db.keys.claim(recordingId);
      for (let attempt = 0; attempt <= RACE_RETRIES; attempt++) {
        const entry = await db.get(key);
        if (decodeClaim(entry.value)?.owner !== owner) return;
        if ((await db.commitOp((op) => op.check(entry).delete(key))).ok) return;
      }
      throw new Error(`denoKvStorage: the claim on recording ${recordingId} kept changing while it was released`);
    },

    async sharedSecret() {
      const db = await ctx.db();
      const key = db.keys.secret;
      // Set only where none is: of instances racing, the first commit wins and everyone reads it.
      await db.commitOp((op) => op.check({ key, versionstamp: null }).set(key, encoder.encode(randomToken(43))));
      const entry = await db.get(key);
      return decoder.decode(entry.value as Uint8Array);
    },
  };
}
