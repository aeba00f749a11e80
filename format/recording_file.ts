/**
 * The recording file: columnar JSON text, zlib-compressed.
 *
 *   {"v":1,"meta":{…summary},"k":"mrerer…","t":[0,412,96,…],"l":["validate",…],"d":[payload,…]}
 *
 * Columns compress far better than an array of event objects: kinds become one
 * short string, offsets become small deltas, and consecutive payloads (the same
 * form a keystroke apart) sit next to each other for deflate to match. The zlib
 * wrapper's checksum turns any corruption into a clear error instead of garbage.
 */

import { unzlibSync, zlibSync } from "fflate";
import { decode, type Format } from "./codec.ts";
import { CorruptRecordingError } from "./errors.ts";
import { FrameKind, type Recording, type RecordingSummary, type ReplayEvent, toEvent } from "./events.ts";

const MAGIC = [0x48, 0x52, 0x50, 0x01]; // "HRP" v1, then one byte: the payload format
const FORMAT_BYTE: Record<Format, number> = { tagged: 0, json: 1 };
const HEADER = MAGIC.length + 1;

/** The columns of a recording as the worker accumulates them: raw payload text, never parsed. */
export interface RecordingColumns {
  kinds: string;
  offsets: number[];
  labels: string[];
  payloads: string[];
  /**
   * Each event's request counter (format/segments.ts), kept so that segments
   * arriving after finalization merge into their place. Stored ("q", as
   * deltas) only where it differs from what the kinds imply — one request per
   * event or params frame — so a recording of sequential requests pays nothing.
   */
  seqs?: number[];
}

export type RecordingMeta = Omit<RecordingSummary, "sizeBytes">;

/**
 * Compresses bytes into a zlib stream (RFC 1950). Any conforming deflater will
 * do: files are read with fflate, whatever wrote them. The worker passes
 * `node:zlib` (worker/zlib.ts, about five times faster and a little smaller);
 * this module keeps fflate as the default so that it runs in browsers too.
 */
export type Deflate = (bytes: Uint8Array) => Uint8Array;

// Level 6: the same size as 9 with fflate on recordings (measured: 3,236 B both), three times faster.
const fflateDeflate: Deflate = (bytes) => zlibSync(bytes, { level: 6 });

export function encodeRecordingFile(meta: RecordingMeta, columns: RecordingColumns, deflate: Deflate = fflateDeflate): Uint8Array {
  return compressText(recordingText(meta, columns), meta.format, deflate);
}

export function recordingText(meta: RecordingMeta, columns: RecordingColumns): string {
  const deltas = deltasOf(columns.offsets);
  return (
    '{"v":1,"meta":' + JSON.stringify(meta) +
    ',"k":' + JSON.stringify(columns.kinds) +
    ',"t":' + JSON.stringify(deltas) +
    ',"l":' + JSON.stringify(columns.labels) +
    (columns.seqs && !sameSeqs(columns.seqs, impliedSeqs(columns.kinds)) ? ',"q":' + JSON.stringify(deltasOf(columns.seqs)) : "") +
    ',"d":[' + columns.payloads.join(",") + "]}"
  );
}

function deltasOf(values: number[]): number[] {
  const out = new Array<number>(values.length);
  let previous = 0;
  for (let i = 0; i < values.length; i++) {
    out[i] = values[i] - previous;
    previous = values[i];
  }
  return out;
}

export function compressText(text: string, format: Format, deflate: Deflate = fflateDeflate): Uint8Array {
  const body = deflate(new TextEncoder().encode(text));
  const out = new Uint8Array(HEADER + body.length);
  out.set(MAGIC);
  out[MAGIC.length] = FORMAT_BYTE[format];
  out.set(body, HEADER);
  return out;
}

export function decodeRecordingFile(id: string, bytes: Uint8Array): Recording {
  const { text, format } = decompressFile(id, bytes);
  try {
    return recordingFromText(text, format, bytes.length);
  } catch (error) {
    throw new CorruptRecordingError(id, `cannot decode: ${(error as Error).message}`);
  }
}

/**
 * A stored recording back as the columns it was written from, payloads as
 * codec text (never revived): what a recording that receives more segments
 * after it was finalized is merged from.
 */
export function decodeRecordingColumns(id: string, bytes: Uint8Array): { meta: RecordingMeta; columns: RecordingColumns } {
  const { text } = decompressFile(id, bytes);
  try {
    // Plain JSON: codec text is JSON, and JSON.stringify of what JSON.parse made
    // gives back the same text (key order, numbers, "__proto__" own keys).
    const file = JSON.parse(text) as { v: number; meta: RecordingMeta; k: string; t: number[]; l: string[]; q?: number[]; d: unknown[] };
    if (file?.v !== 1 || file.t.length !== file.k.length || file.d.length !== file.k.length) throw new Error("not a version 1 file");
    if (file.q && file.q.length !== file.k.length) throw new Error("columns of different lengths");
    const columns: RecordingColumns = { kinds: file.k, offsets: sums(file.t), labels: file.l, payloads: file.d.map((d) => JSON.stringify(d)) };
    columns.seqs = file.q ? sums(file.q) : impliedSeqs(file.k);
    return { meta: file.meta, columns };
  } catch (error) {
    throw new CorruptRecordingError(id, `cannot decode: ${(error as Error).message}`);
  }
}

/** The request counters of sequential requests: the mount is 1, each event or params frame starts the next. */
function impliedSeqs(kinds: string): number[] {
  const out = new Array<number>(kinds.length);
  let seq = 1;
  for (let i = 0; i < kinds.length; i++) {
    if (i > 0 && (kinds[i] === "e" || kinds[i] === "p")) seq++;
    out[i] = seq;
  }
  return out;
}

function sameSeqs(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sums(deltas: number[]): number[] {
  let total = 0;
  return deltas.map((delta) => (total += delta));
}

function decompressFile(id: string, bytes: Uint8Array): { text: string; format: Format } {
  if (bytes.length < HEADER + 6 || MAGIC.some((b, i) => bytes[i] !== b) || bytes[MAGIC.length] > 1) {
    throw new CorruptRecordingError(id, "not a hono-replay recording file");
  }
  const format: Format = bytes[MAGIC.length] === FORMAT_BYTE.json ? "json" : "tagged";
  let text: string;
  try {
    const raw = unzlibSync(bytes.subarray(HEADER));
    // fflate does not check zlib's trailing Adler-32; without this, a flipped bit
    // could decode into different events instead of an error.
    if (adler32(raw) !== new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0)) {
      throw new Error("checksum mismatch");
    }
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch (error) {
    throw new CorruptRecordingError(id, `cannot decompress: ${(error as Error).message}`);
  }
  return { text, format };
}

/** Also used for active recordings, which the worker hands over as uncompressed text. */
export function recordingFromText(text: string, format: Format, sizeBytes: number): Recording {
  // The envelope (meta, kinds, offsets, labels) holds no "~" keys, so one codec
  // parse of the whole text revives exactly the payloads.
  const file = decode(text, format) as { v: number; meta: RecordingMeta; k: string; t: number[]; l: string[]; d: unknown[] };
  if (file?.v !== 1) throw new Error(`unsupported file version ${file?.v}`);
  // The header's format byte is outside the checksum; the meta inside it must agree.
  if (file.meta?.format !== format) throw new Error(`format ${format} does not match the recording's ${file.meta?.format}`);
  if (typeof file.k !== "string" || file.t.length !== file.k.length || file.d.length !== file.k.length) {
    throw new Error("columns of different lengths");
  }
  return { ...file.meta, sizeBytes, events: columnsToEvents(file.k, file.t, file.l, file.d) };
}

function columnsToEvents(kinds: string, deltas: number[], labels: string[], payloads: unknown[]): ReplayEvent[] {
  const events: ReplayEvent[] = [];
  let t = 0;
  let label = 0;
  for (let i = 0; i < kinds.length; i++) {
    t += deltas[i];
    const kind = kinds[i];
    const hasLabel = kind === FrameKind.event || kind === FrameKind.info;
    const event = toEvent(kind, t, hasLabel ? labels[label++] : "", payloads[i]);
    if (!event) throw new Error(`unknown event kind ${JSON.stringify(kind)} at ${i}`);
    events.push(event);
  }
  return events;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the longest run before b can overflow 2^32 (zlib's NMAX).
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
