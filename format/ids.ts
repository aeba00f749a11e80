import { InvalidIdError } from "./errors.ts";

const ID = /^[A-Za-z0-9_-]{1,100}$/;

/** Time-ordered (sorts by start), unguessable, safe as a file name and a URL segment. */
export function newRecordingId(now = Date.now()): string {
  return now.toString(36).padStart(9, "0") + "-" + randomToken(12);
}

export function randomToken(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += alphabet[b % 36];
  return out;
}

export function isValidId(id: unknown): id is string {
  return typeof id === "string" && ID.test(id);
}

/** Throws InvalidIdError for anything that could escape a directory or a key space. */
export function assertValidId(id: unknown): string {
  if (!isValidId(id)) throw new InvalidIdError(id);
  return id;
}

/** FNV-1a, 32 bits, base 36: short hashes for HTML fidelity and session keys. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}
