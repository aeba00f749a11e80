/**
 * The session cookie: the session id and, for each view the session is being
 * recorded on, where its recording stands. The cookie travels with every
 * request, so whichever instance serves it knows — without asking the store —
 * which recording the request belongs to, when it started (the recording id
 * carries its start time, the base of every offset) and how many requests it
 * has seen (`seq`, the order segments from several instances merge in). An
 * instance whose own last frame of a recording is not the `seq` the cookie
 * names knows another instance served the request in between, and writes a
 * full snapshot instead of a delta.
 *
 *   <sid>!<view>~<recording id>~<seq>~<last activity>~<left at>~<path hash>!…
 *
 * Numbers are base 36; a view name is percent-encoded, so no separator can
 * appear in it. An entry is bounded by the registered views, so the cookie is too.
 */

export interface RecordingEntry {
  view: string;
  id: string;
  /** Requests recorded so far in this recording, by every instance. */
  seq: number;
  /** Epoch ms of the last recorded request. */
  lastAt: number;
  /** Epoch ms of the pagehide beacon, if the page went away since. */
  leftAt?: number;
  /** shortHash of the recording's page path: a redirected form post finds its page by Referer. */
  path: string;
}

export interface SessionCookie {
  sid: string;
  entries: RecordingEntry[];
}

const SID = /^[a-z0-9]{24}$/;
const ID = /^[a-z0-9]{1,16}-[a-z0-9]{1,32}$/;

export function parseSessionCookie(value: string | undefined): SessionCookie | undefined {
  if (!value) return undefined;
  const [sid, ...rest] = value.split("!");
  if (!SID.test(sid)) return undefined;
  const entries: RecordingEntry[] = [];
  for (const part of rest) {
    const entry = parseEntry(part);
    if (entry && !entries.some((e) => e.view === entry.view)) entries.push(entry);
  }
  return { sid, entries };
}

function parseEntry(part: string): RecordingEntry | undefined {
  const [view, id, seq, lastAt, leftAt, path] = part.split("~");
  if (path === undefined || !ID.test(id)) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(view);
  } catch {
    return undefined; // a damaged entry only costs its recording's continuity
  }
  const n = (text: string) => parseInt(text, 36);
  const entry: RecordingEntry = { view: name, id, seq: n(seq), lastAt: n(lastAt), path };
  if (leftAt) entry.leftAt = n(leftAt);
  return Number.isSafeInteger(entry.seq) && Number.isSafeInteger(entry.lastAt) ? entry : undefined;
}

export function serializeSessionCookie(cookie: SessionCookie): string {
  let out = cookie.sid;
  for (const e of cookie.entries) {
    out += "!" + [
      encodeURIComponent(e.view).replace(/[!~*'()]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()),
      e.id,
      e.seq.toString(36),
      e.lastAt.toString(36),
      e.leftAt === undefined ? "" : e.leftAt.toString(36),
      e.path,
    ].join("~");
  }
  return out;
}

/** The recording's start (epoch ms), from its id (format/ids.ts newRecordingId). */
export function startOfRecording(id: string): number {
  return parseInt(id.slice(0, id.indexOf("-")), 36);
}
