/**
 * The default sanitizer. It runs before anything is serialized, so what it drops
 * never reaches the ring, the journal or the disk. It never throws: whatever the
 * app puts in its assigns (cycles, proxies with throwing getters, streams,
 * class instances, megabyte strings) comes out as plain, bounded data.
 *
 * Secrets are removed by name and by value (the rules are in secrets.ts): a key
 * whose name says secret is dropped with its value, at any depth, in objects,
 * Maps and `[name, value]` pairs (whose value becomes `[redacted]`); every
 * string — values, Map keys, Set members — loses what looks like a card number,
 * a JWT, a bearer or basic credential, a provider key or a PEM private key, to
 * a marker saying which.
 *
 * The output of the default sanitizer that holds *everything* its input held
 * (nothing dropped, redacted, cut or compacted) is remembered as an exact copy
 * until the next call (`isExactCopy`): the recorder may store an unkeyed
 * fidelity hash of a page rendered from such assigns, since it reveals nothing
 * the stored assigns do not; any other page's hash would let whoever holds the
 * recording test guesses for what was removed (see `fidelityKey` in the README).
 */

import type { Assigns, Params } from "../format/mod.ts";
import { isCardNumberValue, isSensitiveKey, marker, REDACTED, redactSecretValues } from "./secrets.ts";

export { isSensitiveKey };

export interface Sanitizer {
  /** Initial and rendered assigns. */
  sanitizeAssigns(assigns: Assigns): Assigns;
  /** Route, query and body params, and the session data. */
  sanitizeParams(params: Params): Params;
  /** The changed part of a render, given the (already sanitized) full assigns. */
  sanitizeDelta?(changed: Assigns, assigns: Assigns): Assigns;
}

export interface SanitizeLimits {
  /** Nesting below this is replaced by a summary. Default 8. */
  maxDepth: number;
  /** Longer strings are cut, with a note of how much. Default 10,000. */
  maxStringLength: number;
  /** Longer arrays, maps and sets keep their head, with a note. Default 1,000. */
  maxItems: number;
}

export const defaultLimits: SanitizeLimits = { maxDepth: 8, maxStringLength: 10_000, maxItems: 1_000 };

/** One sanitizing pass: its limits, the path of objects being cleaned (cycles), and whether anything was lost. */
interface Pass {
  limits: SanitizeLimits;
  ancestors: object[];
  lossy: boolean;
}

/**
 * The last record the default sanitizer returned with nothing removed; see the
 * header. One slot, not a weak set of them all: the recorder asks right after
 * sanitizing (a weak set took a young key into an old table on every call,
 * through V8's ephemeron write barrier), and asking about an earlier record
 * can only answer false, which costs a keyed hash, never a leak.
 */
let lastExactCopy: object | undefined;

/** Whether `value` is the record the default sanitizer returned last, holding everything its input held. */
export function isExactCopy(value: unknown): boolean {
  return value !== null && typeof value === "object" && value === lastExactCopy;
}

export function sanitizeValue(value: unknown, limits: SanitizeLimits = defaultLimits): unknown {
  return run(value, { limits, ancestors: [], lossy: false });
}

function run(value: unknown, pass: Pass): unknown {
  try {
    return clean(value, pass, 0);
  } catch (error) {
    pass.lossy = true;
    return `[Unserializable: ${describeError(error)}]`;
  }
}

/** Sanitizes a record (assigns, params), dropping sensitive keys at every depth. */
export function sanitizeRecord(record: unknown, limits: SanitizeLimits = defaultLimits): Record<string, unknown> {
  const pass: Pass = { limits, ancestors: [], lossy: false };
  const out = run(record, pass);
  if (out !== null && typeof out === "object" && !Array.isArray(out) && Object.getPrototypeOf(out) === Object.prototype) {
    lastExactCopy = pass.lossy ? undefined : out;
    return out as Record<string, unknown>;
  }
  return { value: out };
}

export function defaultSanitizer(limits: SanitizeLimits = defaultLimits): Sanitizer {
  return {
    sanitizeAssigns: (assigns) => sanitizeRecord(assigns, limits),
    sanitizeParams: (params) => sanitizeRecord(params, limits),
  };
}

function clean(value: unknown, pass: Pass, depth: number): unknown {
  switch (typeof value) {
    case "string":
      return cleanString(value, pass);
    case "number":
    case "bigint":
      if (isCardNumberValue(value)) {
        pass.lossy = true;
        return marker("card number");
      }
      return value;
    case "boolean":
    case "undefined":
      return value;
    case "symbol":
      pass.lossy = true;
      return value.toString();
    case "function":
      pass.lossy = true;
      return `[Function ${value.name || "anonymous"}]`;
  }
  if (value === null) return null;
  try {
    return cleanObjectLike(value as object, pass, depth);
  } catch (error) {
    // One hostile value (a proxy whose traps throw) costs only itself, not its siblings.
    pass.lossy = true;
    return `[Unserializable: ${describeError(error)}]`;
  }
}

/** Secret-looking values replaced (before cutting: a private key cut in half is still a secret), then cut to the limit. */
function cleanString(value: string, pass: Pass): string {
  const { text, found } = redactSecretValues(value);
  if (found.length) pass.lossy = true;
  const max = pass.limits.maxStringLength;
  if (text.length <= max) return text;
  pass.lossy = true;
  return text.slice(0, max) + `… [${text.length - max} more characters]`;
}

function cleanObjectLike(obj: object, pass: Pass, depth: number): unknown {
  const { limits, ancestors } = pass;
  if (ancestors.includes(obj)) {
    pass.lossy = true;
    return "[Circular]";
  }
  const special = compactSpecial(obj, pass);
  if (special !== NOT_SPECIAL) return special;
  if (depth >= limits.maxDepth) {
    pass.lossy = true;
    return Array.isArray(obj) ? `[Array(${obj.length})]` : `[${className(obj) ?? "Object"}]`;
  }
  ancestors.push(obj);
  try {
    if (Array.isArray(obj)) {
      // A `[name, value]` pair (Object.entries, FormData, Headers entries): the name says whether the value is secret.
      if (obj.length === 2 && typeof obj[0] === "string" && isSensitiveKey(obj[0])) {
        pass.lossy = true;
        return [cleanString(obj[0], pass), REDACTED];
      }
      return cleanItems(obj, pass, depth);
    }
    if (obj instanceof Map) {
      const entries: [unknown, unknown][] = [];
      for (const [k, v] of obj) {
        if (typeof k === "string" && isSensitiveKey(k)) {
          pass.lossy = true;
          continue;
        }
        if (entries.length === limits.maxItems) {
          pass.lossy = true;
          break;
        }
        entries.push([clean(k, pass, depth + 1), clean(v, pass, depth + 1)]);
      }
      return new Map(entries);
    }
    if (obj instanceof Set) {
      if (obj.size > limits.maxItems) pass.lossy = true;
      return new Set(cleanItems([...obj].slice(0, limits.maxItems), pass, depth));
    }
    return cleanObject(obj, pass, depth);
  } finally {
    ancestors.pop();
  }
}

function cleanItems(items: unknown[], pass: Pass, depth: number): unknown[] {
  const n = Math.min(items.length, pass.limits.maxItems);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = clean(items[i], pass, depth + 1);
  if (items.length > n) {
    pass.lossy = true;
    out.push(`[… ${items.length - n} more items]`);
  }
  return out;
}

function cleanObject(obj: object, pass: Pass, depth: number): Record<string, unknown> {
  const { limits } = pass;
  const out: Record<string, unknown> = {};
  const name = className(obj);
  // A class instance keeps its fields and says what it was; replay cannot revive its methods (or getters).
  if (name) {
    out.__class = name;
    pass.lossy = true;
  }
  let count = 0;
  for (const key of Object.keys(obj)) {
    if (isSensitiveKey(key)) {
      pass.lossy = true;
      continue;
    }
    if (count++ === limits.maxItems) {
      pass.lossy = true;
      out["…"] = `[${Object.keys(obj).length - limits.maxItems} more keys]`;
      break;
    }
    let v: unknown;
    try {
      v = (obj as Record<string, unknown>)[key];
    } catch (error) {
      pass.lossy = true;
      v = `[Unreadable: ${describeError(error)}]`;
    }
    const cleaned = clean(v, pass, depth + 1);
    // A "__proto__" key (from a parsed JSON body, say) must stay data, not become the prototype.
    if (key === "__proto__") Object.defineProperty(out, key, { value: cleaned, enumerable: true, writable: true, configurable: true });
    else out[key] = cleaned;
  }
  return out;
}

const NOT_SPECIAL = Symbol("not special");

/** Values that are kept as they are (the codec preserves them) or summarized as a string (lossy). */
function compactSpecial(obj: object, pass: Pass): unknown {
  const { limits } = pass;
  // Plain objects and arrays (most of any assigns) are none of the classes below, and each
  // `instanceof` costs a call (some globals define Symbol.hasInstance: @hono/node-server's
  // Request and Response do): only the stream test applies to them.
  const proto = Object.getPrototypeOf(obj);
  if (proto === Object.prototype || proto === Array.prototype || proto === null) {
    if (!isNodeStream(obj)) return NOT_SPECIAL;
    pass.lossy = true;
    return `[${className(obj) ?? "Stream"}]`;
  }
  if (obj instanceof Date || obj instanceof RegExp) return obj;
  if (obj instanceof Uint8Array && obj.length <= limits.maxStringLength) return obj.slice();
  const compacted = compactOther(obj, limits);
  if (compacted !== NOT_SPECIAL) pass.lossy = true;
  return compacted;
}

function compactOther(obj: object, limits: SanitizeLimits): unknown {
  if (obj instanceof Uint8Array) return `[Uint8Array ${obj.length} bytes]`;
  if (ArrayBuffer.isView(obj)) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
  if (obj instanceof ArrayBuffer) return `[ArrayBuffer ${obj.byteLength} bytes]`;
  if (typeof SharedArrayBuffer !== "undefined" && obj instanceof SharedArrayBuffer) return `[SharedArrayBuffer ${obj.byteLength} bytes]`;
  if (typeof Request !== "undefined" && obj instanceof Request) return `[Request ${obj.method} ${obj.url}]`;
  if (typeof Response !== "undefined" && obj instanceof Response) return `[Response ${obj.status}]`;
  if (typeof Headers !== "undefined" && obj instanceof Headers) return "[Headers]";
  if (typeof ReadableStream !== "undefined" && obj instanceof ReadableStream) return "[ReadableStream]";
  if (typeof WritableStream !== "undefined" && obj instanceof WritableStream) return "[WritableStream]";
  if (typeof File !== "undefined" && obj instanceof File) return `[File ${obj.name} ${obj.size} bytes]`;
  if (typeof Blob !== "undefined" && obj instanceof Blob) return `[Blob ${obj.size} bytes]`;
  if (obj instanceof Promise) return "[Promise]";
  if (obj instanceof WeakMap || obj instanceof WeakSet || (typeof WeakRef !== "undefined" && obj instanceof WeakRef)) {
    return `[${obj.constructor.name}]`;
  }
  if (obj instanceof Error) return { __class: obj.name || "Error", message: redactSecretValues(String(obj.message)).text.slice(0, limits.maxStringLength) };
  if (isNodeStream(obj)) return `[${className(obj) ?? "Stream"}]`;
  return NOT_SPECIAL;
}

function isNodeStream(obj: object): boolean {
  const o = obj as { pipe?: unknown; on?: unknown };
  return typeof o.pipe === "function" && typeof o.on === "function";
}

/** The class name of an instance, or undefined for plain objects. */
function className(obj: object): string | undefined {
  let proto: object | null;
  try {
    proto = Object.getPrototypeOf(obj);
  } catch {
    return "Proxy";
  }
  if (proto === null || proto === Object.prototype) return undefined;
  const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object" ? name : "Object";
}

function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
}
