/**
 * How denoKvStorage's values are written: every value is a Uint8Array
 * (summaries, segment headers and claims as UTF-8 JSON).
 *
 * Invariant: KV stores bytes as they are, whereas objects go through V8
 * serialization, whose version differs between Deno and Node, so a database
 * written by one could not be read by the other.
 */

import type { RecordingSummary } from "../../format/mod.ts";

/** A summary as stored: the summary, plus where its data is. */
export interface Head extends RecordingSummary {
  /** Generation of the data chunks. */
  gen: string;
  chunks: number;
  bytes: number;
}

/** A segment's header: where its text is, and when the recording was last active. */
export interface SegmentHead {
  lastAt: number;
  gen: string;
  chunks: number;
  bytes: number;
}

/** The lease on finalizing a recording. */
export interface Claim {
  owner: string;
  until: number;
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

export function decodeHead(value: unknown): Head | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    return JSON.parse(decoder.decode(value)) as Head;
  } catch {
    return undefined; // the caller reports the damage (load) or leaves the summary out (list)
  }
}

function decodeJson<T>(value: unknown, valid: (v: T) => boolean): T | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    const parsed = JSON.parse(decoder.decode(value)) as T;
    return parsed && typeof parsed === "object" && valid(parsed) ? parsed : undefined;
  } catch {
    return undefined; // the caller reports the damage (a header that cannot be read)
  }
}

export const decodeSegmentHead = (value: unknown) =>
  decodeJson<SegmentHead>(value, (h) => typeof h.gen === "string" && Number.isInteger(h.chunks) && Number.isInteger(h.bytes) && typeof h.lastAt === "number");
export const decodeClaim = (value: unknown) => decodeJson<Claim>(value, (c) => typeof c.owner === "string" && typeof c.until === "number");

export function toSummary(head: Head): RecordingSummary {
  const { gen: _gen, chunks: _chunks, bytes: _bytes, ...summary } = head;
  return summary;
}

/** The parts, one after the other. */
export function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

