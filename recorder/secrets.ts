/**
 * What counts as a secret: by name (a key, a form field, a query name, an
 * event name) and by value (any string that is stored). The sanitizer, the URL
 * redaction and the event-name redaction all ask this module, so one rule set
 * covers every place a request's data can reach the ring, the journal and the
 * store.
 *
 * Invariants, and why:
 * - Names are compared on their *skeleton*: compatibility-decomposed (NFKD:
 *   fullwidth and mathematical letters become ASCII), combining marks and
 *   invisible format characters (zero-width space/joiner, soft hyphen, BOM)
 *   removed, and Cyrillic/Greek look-alikes mapped to the Latin letter they
 *   imitate. `pass\u200Bword` and `раssword` (Cyrillic р, а) are `password`:
 *   a name that only *looks* ordinary is not ordinary.
 * - A name is split into words in any style (`otpCode`, `card_cvv`,
 *   `x-auth-token`, `AWS_ACCESS_KEY_ID`) and matched word by word, plus a
 *   substring check of the joined name for the long secret words (so
 *   `newpassword` and `passw0rd` match). Short words (`pin`, `pw`, `otp`) only
 *   match as whole words: `opinion` and `shipping` are not secrets.
 * - Value rules only ever *replace* the part that matched, with a marker
 *   saying what was removed (`[redacted: card number]`), so the rest of a
 *   string stays readable and the recording says why something is missing.
 * - Nothing here throws on any input; everything is synchronous and bounded by
 *   the length of its input (no backtracking blow-up: every repetition is
 *   over a character class that cannot overlap what follows it).
 */

import { BoundedMemo } from "./bounded_memo.ts";

/** Cyrillic and Greek letters that render like Latin ones, and a few Latin variants NFKD leaves alone. */
const CONFUSABLES: Record<string, string> = {
  "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h",
  "о": "o", "р": "p", "с": "c", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ь": "b",
  "А": "A", "В": "B", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M", "О": "O", "Р": "P", "С": "C",
  "Ѕ": "S", "Т": "T", "У": "Y", "Х": "X",
  "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
  "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
  "Τ": "T", "Υ": "Y", "Χ": "X",
  "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g",
};
const CONFUSABLE = new RegExp(`[${Object.keys(CONFUSABLES).join("")}]`, "g");
/** Combining marks, format characters (zero-width, bidi controls, soft hyphen, BOM) and control characters. */
const INVISIBLE = /[\p{M}\p{Cf}\p{Cc}]/gu;
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/** The text as it reads: look-alike and invisible characters resolved (see the header). */
function skeleton(text: string): string {
  if (PLAIN_ASCII.test(text)) return text;
  return text.normalize("NFKD").replace(INVISIBLE, "").replace(CONFUSABLE, (c) => CONFUSABLES[c] ?? c);
}

/** Digits and symbols used as letters: `passw0rd`, `p@ssword`, `s3cret`. */
function unleet(text: string): string {
  return text.replace(/[01345@$7]/g, (c) => ({ "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s", "7": "t" })[c]!);
}

/** Secret on their own, as a whole word of the name. */
const SECRET_WORDS = new Set([
  "pw", "pwd", "pass", "passwd", "password", "passwords", "passcode", "passphrase", "passkey",
  "pin", "otp", "totp", "hotp", "mfa", "2fa", "tfa",
  "cvv", "cvc", "cvv2", "cvc2", "cav2", "cid2", "ssn",
  "sid", "sessid", "jwt", "auth", "bearer", "authorization",
  "secret", "secrets", "token", "tokens", "credential", "credentials", "creds",
  "cookie", "cookies", "csrf", "xsrf", "apikey", "privkey",
]);
/** A word that is secret together with another word of the name: `accessKey`, `securityCode`, `session_id`. */
const QUALIFIED: Record<string, Set<string>> = {
  key: new Set(["access", "private", "priv", "secret", "api", "signing", "encryption", "master", "client", "license", "session", "auth", "ssh", "gpg", "pgp", "aws", "stripe"]),
  code: new Set(["security", "verification", "verify", "auth", "authorization", "reset", "recovery", "backup", "access", "confirmation", "confirm", "one", "sms", "login", "card", "unlock", "activation"]),
  id: new Set(["session", "access", "secret"]),
  number: new Set(["card", "credit", "cc"]),
  num: new Set(["card", "credit", "cc"]),
  no: new Set(["card", "credit", "cc"]),
  header: new Set(["auth"]),
};
/** Names that are secrets when they are the whole name: `?code=` (an OAuth code), `?key=`. */
const SECRET_ALONE = new Set(["key", "code", "cc", "pan"]);
/** Long words found anywhere in the name with its separators removed: `newpassword`, `myapitoken`. */
const SECRET_PARTS = [
  "password", "passwd", "passphrase", "passcode", "secret", "token", "apikey", "accesskey", "privatekey", "privkey",
  "authorization", "cookie", "csrf", "xsrf", "sessionid", "creditcard", "cardnumber", "credential", "bearer",
  "otpcode", "pincode", "mfacode", "authcode", "securitycode", "authheader", "authtoken",
];

/** Words of a name in any style: `otpCode`, `card_cvv`, `x-auth-token`, `AWSAccessKeyId`. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
}

function matchesWords(words: string[]): boolean {
  if (words.length === 1 && SECRET_ALONE.has(words[0])) return true;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (SECRET_WORDS.has(w)) return true;
    const qualifiers = QUALIFIED[w];
    if (qualifiers && words.some((other, j) => j !== i && qualifiers.has(other))) return true;
  }
  return false;
}

const keyCache = new BoundedMemo<boolean>(4096);

/**
 * Whether a name says its value is secret. Case, style, look-alike and
 * invisible characters do not matter (see the header). Cached: apps use few names.
 */
export function isSensitiveKey(key: string): boolean {
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached;
  const name = skeleton(key);
  const squashed = name.toLowerCase().replace(/[^a-z0-9@$]/g, "");
  const leet = unleet(squashed);
  const result = matchesWords(wordsOf(name)) ||
    SECRET_PARTS.some((part) => squashed.includes(part) || leet.includes(part));
  keyCache.set(key, result);
  return result;
}

// ─── Values ──────────────────────────────────────────────────────────────────

/** The marker that replaces a removed value: says what it was, never what it held. */
export function marker(what: string): string {
  return `[redacted: ${what}]`;
}

/** What replaces the value of a key whose name says secret, where the key itself is kept (URLs, pairs, event names). */
export const REDACTED = "[redacted]";

const VALUE_PATTERN = new RegExp(
  [
    // PEM private keys (RSA, EC, OPENSSH, ENCRYPTED, PGP …), to their END line or the end of the text.
    String.raw`(?<pem>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$))`,
    // JWT / JWS: base64url of '{"' twice, then a signature.
    String.raw`(?<jwt>\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)`,
    String.raw`(?<bearer>\b(?:Bearer|bearer|BEARER)[ \t]+[A-Za-z0-9._~+/-]{12,}=*)`,
    String.raw`(?<basic>\b(?:Basic|basic|BASIC)[ \t]+[A-Za-z0-9+/]{6,}={0,2})`,
    // AWS access key ids (user, role, temporary, …).
    String.raw`(?<aws>\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA|A3T[A-Z0-9])[A-Z0-9]{16}\b)`,
    // Provider keys with a recognizable prefix: GitHub, Stripe, Slack, Google, OpenAI/Anthropic, npm, GitLab.
    String.raw`(?<apikey>\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}|npm_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9_-]{20,}))`,
    // Card numbers of the major networks (first digit 2–6), 13–19 digits, spaces or dashes allowed; Luhn-checked below.
    String.raw`(?<card>\b[2-6]\d{3}(?:[ -]?\d){9,15}\b)`,
  ].join("|"),
  "g",
);

const LABELS: Record<string, string> = {
  pem: "private key",
  jwt: "JWT",
  bearer: "bearer credential",
  basic: "basic credential",
  aws: "AWS access key id",
  apikey: "API key",
  card: "card number",
};

/** The shortest text any value rule can match ("Basic " + 6). */
const MIN_SECRET_LENGTH = 12;

/**
 * The string with every secret-looking value replaced by a marker, and what was
 * found (empty when nothing was). Cheap for ordinary text: short strings are
 * returned at once, others cost one regular-expression scan.
 */
export function redactSecretValues(text: string): { text: string; found: string[] } {
  if (text.length < MIN_SECRET_LENGTH) return { text, found: NONE };
  VALUE_PATTERN.lastIndex = 0;
  if (!VALUE_PATTERN.test(text)) return { text, found: NONE };
  const found: string[] = [];
  const out = text.replace(VALUE_PATTERN, (match: string, ...args: unknown[]) => {
    const groups = args[args.length - 1] as Record<string, string | undefined>;
    const kind = Object.keys(LABELS).find((k) => groups[k] !== undefined)!;
    if (kind === "card" && !isCardNumber(match)) return match;
    if (kind === "bearer" && !/[0-9._~+/=-]/.test(match.replace(/^\S+\s+/, ""))) return match; // "Bearer of responsibilities"
    if (kind === "basic" && !isBasicCredential(match)) return match; // "Basic information"
    found.push(LABELS[kind]);
    return marker(LABELS[kind]);
  });
  return { text: out, found: found.length ? found : NONE };
}
const NONE: string[] = [];

/** A number that is a card number (a card number typed into a numeric field). */
export function isCardNumberValue(value: number | bigint): boolean {
  if (typeof value === "number" && (!Number.isSafeInteger(value) || value < 1e12)) return false;
  return isCardNumber(String(value));
}

function isCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, "");
  if (digits.length < 13 || digits.length > 19 || !/^[2-6]\d+$/.test(digits)) return false;
  if (!/^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|35|6)/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function isBasicCredential(match: string): boolean {
  const encoded = match.replace(/^\S+\s+/, "");
  try {
    return /^[\x20-\x7e]+:[\x20-\x7e]*$/.test(atob(encoded));
  } catch {
    return false; // not base64: ordinary text
  }
}

/**
 * Whether a URL path segment or a request parameter looks like a token (a
 * password-reset or magic-link token, an API key): at least 16 characters of
 * base64url or hex, letters and digits mixed, high entropy, and not a slug of
 * words (`hello-world-2024`).
 */
function looksLikeToken(text: string): boolean {
  if (text.length < 16 || text.length > 512 || !/^[A-Za-z0-9_~.=-]+$/.test(text)) return false;
  let digits = 0;
  let letters = 0;
  const counts = new Map<string, number>();
  for (const ch of text) {
    if (ch >= "0" && ch <= "9") digits++;
    else if (/[A-Za-z]/.test(ch)) letters++;
    counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  if (digits < 2 || letters < 2) return false;
  // A slug: parts that are each all letters or all digits ("my-first-post-2024").
  const parts = text.split(/[-_.~]/);
  if (parts.length > 1 && parts.every((p) => /^(?:[A-Za-z]*|\d*)$/.test(p))) return false;
  let entropy = 0;
  for (const n of counts.values()) entropy -= (n / text.length) * Math.log2(n / text.length);
  return entropy >= 3;
}

// ─── URLs and event names ────────────────────────────────────────────────────

/**
 * The URL as stored. Query parameters whose name says secret keep their name
 * and lose their value (`[redacted]`), as do, with an allowlist, the ones it
 * does not list; other values and path segments lose what the value rules
 * find, and path segments that look like tokens (`/reset/<token>`) are
 * replaced. User info (`https://user:pass@host`) is removed.
 */
export function redactUrl(url: string, allowParam?: (name: string) => boolean): string {
  // A page's URL repeats on every request to it: one that needed nothing redacted is remembered as such.
  if (allowParam === undefined && cleanUrls.has(url)) return url;
  const out = redactUrlOnce(url, allowParam);
  if (allowParam === undefined && out === url) cleanUrls.set(url, true);
  return out;
}

/**
 * Strings that came through a redaction unchanged, remembered so the next
 * request with the same one skips the detectors. Only unchanged strings are
 * kept — what would be stored anyway, never a secret that was removed.
 */
const cleanUrls = new BoundedMemo<true>(1_024, 2_048);
const cleanEventNames = new BoundedMemo<true>(1_024, 200);

function redactUrlOnce(url: string, allowParam?: (name: string) => boolean): string {
  const q = url.indexOf("?");
  const head = q < 0 ? url : url.slice(0, q);
  let changed = false;
  // scheme://[userinfo@]host/path
  const origin = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]*@)?([^/]*)/i.exec(head);
  let base = head;
  if (origin) {
    const path = head.slice(origin[0].length);
    const segments = path.split("/").map((segment) => {
      const decoded = decodedOrAsIs(segment);
      if (looksLikeToken(decoded)) return encodeURIComponent(marker("token"));
      const { text, found } = redactSecretValues(decoded);
      return found.length ? encodeURIComponent(text) : segment;
    });
    base = origin[1] + origin[3] + segments.join("/");
    changed = base !== head;
  }
  if (q < 0) return changed ? base : url;
  const params = new URLSearchParams(url.slice(q + 1));
  const out = new URLSearchParams();
  for (const [key, value] of params) {
    const kept = redactParamValue(key, value, allowParam);
    if (kept !== value) changed = true;
    out.append(key, kept);
  }
  return changed ? base + "?" + out.toString() : url;
}

/** A query or route parameter's value as stored (see redactUrl). */
export function redactParamValue(name: string, value: string, allowParam?: (name: string) => boolean): string {
  if (isSensitiveKey(name)) return REDACTED;
  if (allowParam && !allowParam(name)) return marker("not in allowlist");
  if (looksLikeToken(value)) return marker("token");
  return redactSecretValues(value).text;
}

const MAX_EVENT_NAME = 200;

/**
 * An event name (header `x-replay-event`, form field `_event`) as stored: it is
 * whatever the client sent, so invisible characters are removed, the value
 * rules apply, `name=value` / `name: value` parts whose name says secret lose
 * their value, and it is cut to 200 characters.
 */
export function redactEventName(name: string): string {
  if (cleanEventNames.has(name)) return name;
  const out = redactEventNameOnce(name);
  if (out === name) cleanEventNames.set(name, true);
  return out;
}

function redactEventNameOnce(name: string): string {
  let text = skeleton(name).replace(/[\p{Cc}\p{Cf}]/gu, "");
  text = redactSecretValues(text).text;
  text = text.replace(/([\p{L}\p{N}_.-]+)(\s*[=:]\s*)([^\s&,;]+)/gu, (all, key: string, sep: string, value: string) =>
    isSensitiveKey(key) && value !== REDACTED ? key + sep + REDACTED : all
  );
  if (looksLikeToken(text)) return marker("token");
  return text.length > MAX_EVENT_NAME ? text.slice(0, MAX_EVENT_NAME) + "…" : text;
}

/** A path segment percent-decoded; one that is not valid percent-encoding is judged as it is. */
function decodedOrAsIs(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
