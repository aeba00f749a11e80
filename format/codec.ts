/**
 * The one codec: every value that crosses the ring, the journal or the disk is
 * JSON text. The default "tagged" format keeps the types JSON loses (Date, Map,
 * Set, BigInt, undefined, NaN, ±Infinity, -0, Uint8Array, RegExp) as small
 * tagged objects `{"~":tag,"v":value}`; ordinary data stays plain JSON, so the
 * encoded text is both readable and what deflate compresses best.
 *
 * Escaping: a real object key that starts with "~" is written with one more "~"
 * in front, so a tagged object (whose only tag key is exactly "~") can never be
 * confused with user data, and decoding stays a single JSON.parse with a reviver.
 */

export type Format = "tagged" | "json";

const TAG = "~";

export function encode(value: unknown, format: Format = "tagged"): string {
  const text = format === "tagged" ? encodeTagged(value) : encodePlain(value);
  // JSON.stringify(undefined) is undefined; the plain format has no way to say it.
  return text ?? "null";
}

export function decode(text: string, format: Format = "tagged"): unknown {
  if (format !== "tagged") return JSON.parse(text);
  const value = JSON.parse(text, revive);
  return value === UNDEFINED ? undefined : value;
}

/** Encodes an object key so it can be spliced into hand-built JSON text. */
export function encodeKey(key: string, format: Format = "tagged"): string {
  return JSON.stringify(format === "tagged" && key.startsWith(TAG) ? TAG + key : key);
}

function encodeTagged(value: unknown): string {
  return JSON.stringify(toTagged(value));
}

function toTagged(value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isFinite(value)) return Object.is(value, -0) ? { [TAG]: "-0" } : value;
      return { [TAG]: Number.isNaN(value) ? "NaN" : value > 0 ? "Inf" : "-Inf" };
    case "bigint":
      return { [TAG]: "big", v: value.toString() };
    case "undefined":
      return { [TAG]: "und" };
    case "object":
      return value === null ? null : objectToTagged(value);
    default:
      // Functions and symbols are the sanitizer's business; never throw here.
      return { [TAG]: "und" };
  }
}

/**
 * Containers are copied only when something in them must change: an array or
 * a plain object whose every element encodes as itself is returned as it is,
 * so encoding ordinary assigns (most of a recorded request's encoding) builds
 * no copy for JSON.stringify to walk. Only plain objects (prototype Object or
 * null) are passed through: another object's `toJSON` or prototype could make
 * JSON.stringify write something else than its own keys, so it is copied.
 */
function objectToTagged(value: object): unknown {
  if (Array.isArray(value)) return arrayToTagged(value);
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return plainToTagged(value as Record<string, unknown>);
  if (value instanceof Date) {
    const ms = value.getTime();
    return { [TAG]: "date", v: Number.isNaN(ms) ? null : ms };
  }
  if (value instanceof Map) return { [TAG]: "map", v: [...value].map(([k, v]) => [toTagged(k), toTagged(v)]) };
  if (value instanceof Set) return { [TAG]: "set", v: [...value].map(toTagged) };
  if (value instanceof Uint8Array) return { [TAG]: "u8", v: toBase64(value) };
  if (value instanceof RegExp) return { [TAG]: "re", v: [value.source, value.flags] };
  return copyToTagged(value as Record<string, unknown>);
}

function arrayToTagged(value: unknown[]): unknown[] {
  for (let i = 0; i < value.length; i++) {
    // A hole is written as null either way.
    if (!(i in value)) continue;
    const item = value[i];
    const tagged = toTagged(item);
    if (tagged === item) continue;
    // The first element that changes: the copy starts here (what came before is unchanged).
    const out = value.slice(0, i);
    out.push(tagged);
    for (let j = i + 1; j < value.length; j++) out.push(j in value ? toTagged(value[j]) : null);
    return out;
  }
  return value;
}

function plainToTagged(value: Record<string, unknown>): unknown {
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key.startsWith(TAG) || key === "__proto__") return copyToTagged(value);
    const item = value[key];
    const tagged = toTagged(item);
    if (tagged === item) continue;
    const out: Record<string, unknown> = {};
    for (let j = 0; j < i; j++) out[keys[j]] = value[keys[j]];
    out[key] = tagged;
    for (let j = i + 1; j < keys.length; j++) setOwn(out, keys[j].startsWith(TAG) ? TAG + keys[j] : keys[j], toTagged(value[keys[j]]));
    return out;
  }
  return value;
}

function copyToTagged(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setOwn(out, key.startsWith(TAG) ? TAG + key : key, toTagged(value[key]));
  return out;
}

/**
 * A reviver that returns undefined deletes the slot, which would turn
 * `[1, undefined]` into an array with a hole. So "und" revives to this marker,
 * and the enclosing array or object (revived after its children) swaps it for
 * a real undefined.
 */
const UNDEFINED = Symbol("undefined");

function revive(this: unknown, _key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (value[i] === UNDEFINED) value[i] = undefined;
    return value;
  }
  const obj = value as Record<string, unknown>;
  if (TAG in obj) return fromTag(obj[TAG], obj.v);
  let escaped = false;
  for (const key in obj) {
    if (obj[key] === UNDEFINED) obj[key] = undefined;
    if (key.startsWith(TAG)) escaped = true;
  }
  if (!escaped) return obj;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) setOwn(out, key.startsWith(TAG) ? key.slice(1) : key, obj[key]);
  return out;
}

/** `out[key] = value`, except that a "__proto__" key stays a key instead of replacing the prototype. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function fromTag(tag: unknown, v: unknown): unknown {
  switch (tag) {
    case "und":
      return UNDEFINED;
    case "NaN":
      return NaN;
    case "Inf":
      return Infinity;
    case "-Inf":
      return -Infinity;
    case "-0":
      return -0;
    case "big":
      return BigInt(v as string);
    case "date":
      return new Date(v === null ? NaN : (v as number));
    case "map":
      return new Map(v as [unknown, unknown][]);
    case "set":
      return new Set(v as unknown[]);
    case "u8":
      return fromBase64(v as string);
    case "re":
      return new RegExp((v as string[])[0], (v as string[])[1]);
    default:
      throw new SyntaxError(`hono-replay codec: unknown tag ${JSON.stringify(tag)}`);
  }
}

function encodePlain(value: unknown): string | undefined {
  return JSON.stringify(value, plainReplacer);
}

function plainReplacer(this: unknown, _key: string, value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "object":
      if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), v]));
      if (value instanceof Set) return [...value];
      if (value instanceof Uint8Array) return [...value];
      if (value instanceof RegExp) return value.toString();
      return value;
    default:
      return value;
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function toBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return out;
}

function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of clean) {
    const v = B64.indexOf(ch);
    if (v < 0) throw new SyntaxError("hono-replay codec: bad base64 in Uint8Array");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out;
}
