/**
 * This instance's table of sessions and their recordings, and how a request
 * finds the recording it continues (recorder/index.ts records into it).
 *
 * Invariants, and why:
 * - The cookie says where a session's recordings stand on every instance
 *   (session_cookie.ts); this table holds only what this instance recorded.
 *   A request continues the cookie's entry for its view when it is not over
 *   (idle past `idleTimeoutMs`, or the page left more than `beaconGraceMs`
 *   ago), else this instance's own recording, else none: a new one starts.
 * - A recording this instance lets go of is left (`leave`), not ended: the
 *   store finalizes it unless another instance carried it on; `end` is only
 *   for `c.var.replay.end()`.
 * - Sessions new to this instance past `maxActiveRecordings` are not recorded
 *   (`full`, counted in `capped`): a flood cannot grow the table without bound.
 * - A session with no recording left is forgotten at once.
 */

import { shortHash } from "../format/mod.ts";
import type { EventLog } from "../worker/mod.ts";
import type { RecorderOptions } from "./index.ts";
import { ActiveRecording } from "./recording.ts";
import type { RequestState } from "./request_replay.ts";
import { type RecordingEntry, startOfRecording } from "./session_cookie.ts";
import { pathHash } from "./request_data.ts";

export interface Session {
  recordings: Map<string, ActiveRecording>;
  latest?: ActiveRecording;
}

export interface Continued {
  entry?: RecordingEntry;
  local?: ActiveRecording;
  view: string;
  url: string;
  sid: string;
}

export class SessionTable {
  /** This instance's recordings, by session and view. The cookie says what other instances did. */
  readonly sessions = new Map<string, Session>();
  /** Recordings not started (one per request of a session past the cap) because `maxActiveRecordings` sessions were held already. */
  capped = 0;

  constructor(private readonly log: EventLog, private readonly options: RecorderOptions) {}

  /**
   * The recording a request of this session continues: the cookie's entry for
   * the view (it may have been started or carried on by another instance), else
   * this instance's own (a client that keeps only the first cookie it got).
   * Entries that went idle or whose page left are over: a new recording starts.
   */
  recordingFor(state: RequestState, view: string, url: string, now: number): Continued | undefined {
    const local = this.sessions.get(state.cookie.sid)?.recordings.get(view);
    const entry = state.cookie.entries.find((e) => e.view === view);
    if (entry && !this.over(entry, local, now)) {
      if (local && local.id !== entry.id) this.letGo(state.cookie.sid, view, local);
      return { entry, local: local?.id === entry.id ? local : undefined, view, url, sid: state.cookie.sid };
    }
    if (entry) this.dropEntry(state, view);
    if (local && !this.localOver(local, now)) return { local, view, url, sid: state.cookie.sid };
    if (local) this.letGo(state.cookie.sid, view, local);
    return undefined;
  }

  private over(entry: RecordingEntry, local: ActiveRecording | undefined, now: number): boolean {
    const lastAt = Math.max(entry.lastAt, local?.id === entry.id ? local.lastActivity : 0);
    if (now - lastAt > this.options.idleTimeoutMs) return true;
    return entry.leftAt !== undefined && now >= entry.leftAt + this.options.beaconGraceMs;
  }

  private localOver(rec: ActiveRecording, now: number): boolean {
    return now - rec.lastActivity > this.options.idleTimeoutMs || (rec.leftAt !== undefined && now >= rec.leftAt + this.options.beaconGraceMs);
  }

  /** True (and counted) when a session new to this instance would pass `maxActiveRecordings`. */
  full(sid: string): boolean {
    if (this.sessions.has(sid) || this.sessions.size < (this.options.maxActiveRecordings ?? 10_000)) return false;
    this.capped++;
    return true;
  }

  /** The recording, on this instance, ready for the next request's frames. */
  nextRequest(found: Continued): ActiveRecording {
    let rec = found.local;
    const entry = found.entry!;
    if (!rec) {
      rec = new ActiveRecording(entry.id, found.view, found.url, startOfRecording(entry.id), this.log, this.options.settings);
      rec.seq = entry.seq;
      rec.resume({ view: found.view, url: found.url, sessionKey: shortHash(found.sid) });
      this.session(found.sid).recordings.set(found.view, rec);
    }
    const seen = entry?.seq ?? rec.seq;
    // The cookie names a request this instance did not record: another instance
    // did, and the assigns may have changed there. (A client that keeps an old
    // cookie names an earlier one; this instance's own frames are then the latest.)
    if (rec.seq < seen) rec.forgetBase();
    rec.seq = Math.max(rec.seq, seen) + 1;
    return rec;
  }

  /** Notes a recorded request in the recording, the session and the cookie; `path` is the page's path hash. */
  recorded(state: RequestState, rec: ActiveRecording, path: string, now: number) {
    rec.lastActivity = now;
    rec.leftAt = undefined;
    const session = this.session(state.cookie.sid);
    session.latest = rec;
    const entry: RecordingEntry = { view: rec.view, id: rec.id, seq: rec.seq, lastAt: now, path };
    const i = state.cookie.entries.findIndex((e) => e.view === rec.view);
    if (i < 0) state.cookie.entries.push(entry);
    else state.cookie.entries[i] = entry;
    state.dirty = true;
  }

  /** The session's live recordings, from the cookie and, for views it does not name, this instance. */
  candidates(state: RequestState, now: number): { view: string; path: string; lastAt: number; url: string }[] {
    const out = state.cookie.entries
      .filter((e) => !this.over(e, undefined, now))
      .map((e) => ({ view: e.view, path: e.path, lastAt: e.lastAt, url: "" }));
    for (const rec of this.sessions.get(state.cookie.sid)?.recordings.values() ?? []) {
      const known = out.find((x) => x.view === rec.view);
      if (known) known.url = rec.url;
      else if (!this.localOver(rec, now)) out.push({ view: rec.view, path: pathHash(rec.url), lastAt: rec.lastActivity, url: rec.url });
    }
    return out;
  }

  latestView(state: RequestState): string | undefined {
    const latest = this.sessions.get(state.cookie.sid)?.latest;
    if (latest) return latest.view;
    return [...state.cookie.entries].sort((a, b) => b.lastAt - a.lastAt)[0]?.view;
  }

  dropEntry(state: RequestState, view: string) {
    state.cookie.entries = state.cookie.entries.filter((e) => e.view !== view);
    state.dirty = true;
  }

  private letGo(sid: string, view: string, rec: ActiveRecording) {
    this.endRecordings(sid, (name, r) => name === view && r === rec, (r) => r.leave(r.leftAt ?? r.lastActivity));
  }

  /** Ends the session's recordings that `which` picks, and forgets the session once it has none. */
  endRecordings(sid: string, which: (name: string, rec: ActiveRecording) => boolean, how: (rec: ActiveRecording) => void) {
    const session = this.sessions.get(sid);
    if (!session) return;
    for (const [name, rec] of session.recordings) {
      if (!which(name, rec)) continue;
      how(rec);
      session.recordings.delete(name);
      if (session.latest === rec) session.latest = undefined;
    }
    if (session.recordings.size === 0) this.sessions.delete(sid);
  }

  session(sid: string): Session {
    let s = this.sessions.get(sid);
    if (!s) this.sessions.set(sid, (s = { recordings: new Map() }));
    return s;
  }

  /** Any request of the session keeps its recordings alive and cancels a pending beacon end. */
  touch(state: RequestState, now: number) {
    for (const entry of state.cookie.entries) {
      if (entry.leftAt !== undefined && now < entry.leftAt + this.options.beaconGraceMs) {
        entry.leftAt = undefined;
        state.dirty = true;
      }
    }
    const s = this.sessions.get(state.cookie.sid);
    if (!s) return;
    for (const rec of s.recordings.values()) {
      if (this.localOver(rec, now)) continue;
      rec.lastActivity = now;
      rec.leftAt = undefined;
    }
  }

  /** The pagehide beacon: every recording of the session ends after the grace period, unless the session comes back. */
  leaving(state: RequestState, now: number) {
    for (const entry of state.cookie.entries) entry.leftAt = now;
    if (state.cookie.entries.length) state.dirty = true;
    for (const rec of this.sessions.get(state.cookie.sid)?.recordings.values() ?? []) rec.leftAt = now;
  }

  /** Lets go of recordings that went idle here, or whose page went away and did not come back. */
  sweep(now: number) {
    for (const sid of [...this.sessions.keys()]) {
      this.endRecordings(sid, (_, rec) => this.localOver(rec, now), (rec) => rec.leave(rec.leftAt ?? rec.lastActivity));
    }
  }
}
