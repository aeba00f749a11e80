/**
 * The default sanitizer. It runs before anything is serialized, so what it drops
 * never reaches the ring, the journal or the disk. It never throws: whatever the
 * app puts in its assigns (cycles, proxies with throwing getters, streams,
 * class instances, megabyte strings) comes out as plain, bounded data.
 */

import type { Assigns, Params } from "../format/mod.ts";

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

/**
 * Keys whose values are secrets, compared after lower-casing and removing "_",
 * "-" and spaces, so that `Password`, `current_password`, `x-api-key`,
 * `csrfToken` and `SESSION_ID` all match.
 */
const SENSITIVE_PARTS = ["password", "passwd", "passphrase", "secret", "token", "apikey", "authorization", "cookie", "csrf", "xsrf", "sessionid", "privatekey", "creditcard", "cardnumber"];
const SENSITIVE_EXACT = new Set(["pwd", "pass", "auth", "sid", "sessid", "jwt", "cvv", "cvc", "ssn", "pin", "otp"]);

export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_\s.]/g, "");
  if (SENSITIVE_EXACT.has(k)) return true;
  return SENSITIVE_PARTS.some((part) => k.includes(part));
}

export function sanitizeValue(value: unknown, limits: SanitizeLimits = defaultLimits): unknown {
  try {
    return clean(value, limits, [], 0);
  } catch (error) {
    return `[Unserializable: ${describeError(error)}]`;
  }
}

/** Sanitizes a record (assigns, params), dropping sensitive keys at every depth. */
export function sanitizeRecord(record: unknown, limits: SanitizeLimits = defaultLimits): Record<string, unknown> {
  const out = sanitizeValue(record, limits);
  return out !== null && typeof out === "object" && !Array.isArray(out) && Object.getPrototypeOf(out) === Object.prototype
    ? (out as Record<string, unknown>)
    : { value: out };
}

export function defaultSanitizer(limits: SanitizeLimits = defaultLimits): Sanitizer {
  return {
    sanitizeAssigns: (assigns) => sanitizeRecord(assigns, limits),
    sanitizeParams: (params) => sanitizeRecord(params, limits),
  };
}

function clean(value: unknown, limits: SanitizeLimits, ancestors: object[], depth: number): unknown {
  switch (typeof value) {
    case "string":
      return value.length > limits.maxStringLength
        ? value.slice(0, limits.maxStringLength) + `… [${value.length - limits.maxStringLength} more characters]`
        : value;
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return value;
    case "symbol":
      return value.toString();
    case "function":
      return `[Function ${value.name || "anonymous"}]`;
  }
  if (value === null) return null;
  try {
    return cleanObjectLike(value as object, limits, ancestors, depth);
  } catch (error) {
    // One hostile value (a proxy whose traps throw) costs only itself, not its siblings.
    return `[Unserializable: ${describeError(error)}]`;
  }
}

function cleanObjectLike(obj: object, limits: SanitizeLimits, ancestors: object[], depth: number): unknown {
  if (ancestors.includes(obj)) return "[Circular]";
  const special = compactSpecial(obj, limits);
  if (special !== NOT_SPECIAL) return special;
  if (depth >= limits.maxDepth) return Array.isArray(obj) ? `[Array(${obj.length})]` : `[${className(obj) ?? "Object"}]`;
  ancestors.push(obj);
  try {
    if (Array.isArray(obj)) return cleanItems(obj, limits, ancestors, depth);
    if (obj instanceof Map) {
      const entries: [unknown, unknown][] = [];
      for (const [k, v] of obj) {
        if (typeof k === "string" && isSensitiveKey(k)) continue;
        if (entries.length === limits.maxItems) break;
        entries.push([clean(k, limits, ancestors, depth + 1), clean(v, limits, ancestors, depth + 1)]);
      }
      return new Map(entries);
    }
    if (obj instanceof Set) return new Set(cleanItems([...obj].slice(0, limits.maxItems), limits, ancestors, depth));
    return cleanObject(obj, limits, ancestors, depth);
  } finally {
    ancestors.pop();
  }
}

function cleanItems(items: unknown[], limits: SanitizeLimits, ancestors: object[], depth: number): unknown[] {
  const n = Math.min(items.length, limits.maxItems);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = clean(items[i], limits, ancestors, depth + 1);
  if (items.length > n) out.push(`[… ${items.length - n} more items]`);
  return out;
}

function cleanObject(obj: object, limits: SanitizeLimits, ancestors: object[], depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const name = className(obj);
  // A class instance keeps its fields and says what it was; replay cannot revive its methods.
  if (name) out.__class = name;
  let count = 0;
  for (const key of Object.keys(obj)) {
    if (isSensitiveKey(key)) continue;
    if (count++ === limits.maxItems) {
      out["…"] = `[${Object.keys(obj).length - limits.maxItems} more keys]`;
      break;
    }
    let v: unknown;
    try {
      v = (obj as Record<string, unknown>)[key];
    } catch (error) {
      v = `[Unreadable: ${describeError(error)}]`;
    }
    const cleaned = clean(v, limits, ancestors, depth + 1);
    // A "__proto__" key (from a parsed JSON body, say) must stay data, not become the prototype.
    if (key === "__proto__") Object.defineProperty(out, key, { value: cleaned, enumerable: true, writable: true, configurable: true });
    else out[key] = cleaned;
  }
  return out;
}

const NOT_SPECIAL = Symbol("not special");

/** Values that are kept as they are (the codec preserves them) or summarized as a string. */
function compactSpecial(obj: object, limits: SanitizeLimits): unknown {
  if (obj instanceof Date || obj instanceof RegExp) return obj;
  if (obj instanceof Uint8Array) {
    return obj.length > limits.maxStringLength ? `[Uint8Array ${obj.length} bytes]` : obj.slice();
  }
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
  if (obj instanceof Error) return { __class: obj.name || "Error", message: String(obj.message).slice(0, limits.maxStringLength) };
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
