/**
 * Erasure marks in Deno KV (storage/types.ts ErasureStore): one key per mark,
 * set only where none is (the same id again changes nothing), expiring at the
 * mark's `until`. clear() keeps them: they must outlive what they erased.
 */

import { checkErasure, parseErasure, unexpired } from "../filter.ts";
import type { Erasure, ErasureStore } from "../types.ts";
import { decoder, encodeJson } from "./codec.ts";
import type { KvContext } from "./kv.ts";

export function erasureMethods(ctx: KvContext): ErasureStore {
  return {
    async addErasure(erasure) {
      const value = encodeJson(checkErasure(erasure));
      const expireIn = Math.max(1, Math.ceil(erasure.until - Date.now()));
      const db = await ctx.db();
      const key = db.keys.erasure(erasure.id);
      // Only where none is: the same id again changes nothing.
      await db.commitOp((op) => op.check({ key, versionstamp: null }).set(key, value, { expireIn }));
    },

    async listErasures() {
      const db = await ctx.db();
      const entries = await db.listAll(db.keys.erasures, 500);
      const marks = entries.flatMap((entry) => (entry.value instanceof Uint8Array ? [parseErasure(decoder.decode(entry.value))] : []));
      return unexpired(marks.filter((mark): mark is Erasure => mark !== undefined));
    },
  };
}
