/**
 * The session cookie read and written without Hono's cookie helpers (they run
 * on every recorded request): the same answers as Hono's, checked against
 * Hono's own parser and serializer on generated headers and values.
 */

import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "hono/utils/cookie";
import { cookieValue, issueSid, parseSessionCookie, serializeSessionCookie, sessionCookieLine, type SessionCookie } from "./session_cookie.ts";

const NAME = "hono_replay";

/** A deterministic generator, so a failure names the header that caused it. */
function random(seed: number) {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

const PIECES = [NAME, "__Host-" + NAME, NAME + "_x", "x" + NAME, "a", "b", "=", ";", " ", "\t", '"', "%", "%41", "%E2%82%AC", "%ZZ", "!", "~", "v", "1", ",", "\\", "\n", "é"];

test("cookieValue reads what Hono's parser reads, on 20,000 generated Cookie headers", () => {
  const next = random(7);
  let found = 0;
  for (let n = 0; n < 20_000; n++) {
    const pick = () => PIECES[Math.floor(next() * PIECES.length)];
    let header = "";
    if (next() < 0.3) {
      // Anything at all.
      for (let i = Math.floor(next() * 14); i >= 0; i--) header += pick();
    } else {
      // Pairs, some of them the cookie, with odd names, values, blanks and quotes.
      for (let pairs = 1 + Math.floor(next() * 4); pairs > 0; pairs--) {
        const name = next() < 0.5 ? NAME : pick();
        let value = "";
        for (let i = Math.floor(next() * 4); i > 0; i--) value += pick();
        header += (header ? (next() < 0.5 ? "; " : ";") : next() < 0.2 ? " " : "") + name + (next() < 0.2 ? " = " : "=") + value;
      }
    }
    const expected = parse(header, NAME)[NAME];
    assert.is(cookieValue(header, NAME), expected, JSON.stringify(header));
    if (expected !== undefined) found++;
  }
  // Positive control: the generator does produce headers that carry the cookie.
  assert.ok(found > 500, `${found} headers carried the cookie`);
});

test("cookieValue: the common shapes", () => {
  assert.is(cookieValue(`a=1; ${NAME}=abc!v~1; b=2`, NAME), "abc!v~1");
  assert.is(cookieValue(`${NAME}_x=1; ${NAME}="q"`, NAME), "q");
  assert.is(cookieValue(`x${NAME}=1`, NAME), undefined);
  assert.is(cookieValue(`${NAME}=%41%ZZ`, NAME), "A%ZZ");
  assert.is(cookieValue(undefined, NAME), undefined);
});

test("sessionCookieLine is the line Hono's setCookie writes, over http and https, with any view name", async () => {
  const sid = issueSid("s".repeat(32));
  for (const view of ["SignupForm", "Todo List", "a%b", "x!y~z*(')", "ümlaut", "emoji 🙂"]) {
    const cookie: SessionCookie = { sid, entries: [{ view, id: "mhxyz1234-abcdefghijkl", seq: 12, lastAt: Date.now(), leftAt: 5, path: "1x2y" }] };
    const value = serializeSessionCookie(cookie);
    for (const secure of [false, true]) {
      const name = secure ? "__Host-" + NAME : NAME;
      const app = new Hono();
      app.get("/", (c) => {
        setCookie(c, name, value, { httpOnly: true, sameSite: "Lax", path: "/", secure });
        return c.text("");
      });
      const hono = (await app.request("/")).headers.get("set-cookie");
      assert.is(sessionCookieLine(name, value, secure), hono, `${view}, secure ${secure}`);
      // And it reads back whole.
      const back = parseSessionCookie(cookieValue(hono!.split(";")[0], name), "s".repeat(32));
      assert.equal(back, cookie, view);
    }
  }
});

test("parseSessionCookie keeps the entries it can read: damaged ones, empty ones and a view named twice (the first wins) are left out", () => {
  const secret = "s".repeat(32);
  const sid = issueSid(secret);
  const good = (view: string, id: string, seq: number) => ({ view, id, seq, lastAt: 1_700_000_000_000, path: "1x2y" });
  const a = good("A", "mhxyz1234-aaaaaaaaaaaa", 3);
  const b = { ...good("B c", "mhxyz1234-bbbbbbbbbbbb", 40), leftAt: 1_700_000_000_500 };
  const text = (e: ReturnType<typeof good> & { leftAt?: number }) => serializeSessionCookie({ sid: "", entries: [e] }).slice(1);
  const parts = [
    "",
    text(a),
    "A~mhxyz1234-cccccccccccc~1~1~~p", // A again: the first one stands
    "X~not an id~1~1~~p",
    "Y~mhxyz1234-dddddddddddd~zz!", // too few fields (and an empty part after the "!")
    "Z~mhxyz1234-eeeeeeeeeeee~1~~~p", // lastAt missing
    "%E0%A4%A~mhxyz1234-ffffffffffff~1~1~~p", // a damaged escape
    text(b),
    "",
  ];
  assert.equal(parseSessionCookie(sid + "!" + parts.join("!"), secret), { sid, entries: [a, b] });
  // Positive controls: the sid alone, and the sid with a trailing separator, are a session without entries.
  assert.equal(parseSessionCookie(sid, secret), { sid, entries: [] });
  assert.equal(parseSessionCookie(sid + "!", secret), { sid, entries: [] });
  // A sid this secret did not sign is no session, whatever follows.
  assert.is(parseSessionCookie(issueSid("t".repeat(32)) + "!" + text(a), secret), undefined);
});

test.run();
