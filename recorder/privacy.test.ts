/**
 * Privacy (#13): nothing secret reaches disk. Every leak the issue measured is
 * sent through a real app (worker, file storage, journal) and every file the
 * library wrote is searched — recordings decompressed, segments and journals as
 * they are — with a positive control that the search sees ordinary recorded
 * data. Also: the fidelity hash is no oracle for a dropped PIN, session ids are
 * the server's own, allowlist mode through the demo app, and file modes.
 */

import { createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzlibSync } from "fflate";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, fileStorage, memoryStorage, Player, type Recording, type ReplayEnv } from "../mod.ts";
import { defaultSanitizer, type Sanitizer } from "./sanitize.ts";
import { pageHash } from "./page_digest.ts";
import { contentDigest, decodeRecordingFile, shortHash } from "../format/mod.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { renderView } from "./render.ts";
import { fidelityHash, isKeyedHash, verifyFidelity } from "./fidelity.ts";
import { shortHmac32 } from "./short_hmac.ts";

const EMAIL = "ada@example.test";
const temps: string[] = [];
test.after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-privacy-"));
  temps.push(dir);
  return dir;
}

/** Every file under `dir`, recordings decompressed, as text. */
function filesUnder(dir: string): { path: string; text: string; mode: number; isDir: boolean }[] {
  const out: { path: string; text: string; mode: number; isDir: boolean }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const info = statSync(path);
    if (info.isDirectory()) {
      out.push({ path, text: "", mode: info.mode, isDir: true }, ...filesUnder(path));
      continue;
    }
    let bytes: Uint8Array = readFileSync(path);
    // A recording file: 5 header bytes, then zlib (format/recording_file.ts).
    if (name.endsWith(".hrp")) bytes = unzlibSync(bytes.subarray(5));
    out.push({ path, text: new TextDecoder().decode(bytes), mode: info.mode, isDir: false });
  }
  return out;
}

function assertAbsent(files: { path: string; text: string }[], secrets: Record<string, string>, where: string) {
  const texts = files.filter((f) => f.text);
  assert.ok(texts.some((f) => f.text.includes(EMAIL)), `${where} holds the recorded data (the search looks at the right bytes)`);
  const leaks: string[] = [];
  for (const { path, text } of texts) {
    for (const [kind, secret] of Object.entries(secrets)) if (text.includes(secret)) leaks.push(`${kind} in ${path}`);
  }
  assert.equal(leaks, [], `no secret in ${where}`);
}

/** A Luhn-valid Visa number, so the test does not depend on a famous test number. */
function cardNumber(): string {
  const digits = [4, 5, 3, 9, 1, 4, 8, 8, 0, 3, 4, 3, 6, 4, 6];
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i];
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return [...digits, (10 - (sum % 10)) % 10].join("");
}

const b64url = (text: string) => btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const CARD = cardNumber();
const CARD_SPACED = CARD.replace(/(\d{4})(?=\d)/g, "$1 ");
const JWT = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('{"sub":"ada","exp":1999999999}')}.Zm9vYmFyYmF6cXV4c2lnbmF0dXJl`;
const AWS = "AKIAQ7XKMPL3EXAMPLE7";
const PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
const PEM = `-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----`;
const BEARER = "Bearer 9f8e7d6c5b4a39281706fedcba";
const RESET_TOKEN = "Xq7Lm2Pz9Rt4Vw8Yb3Nk6Hd1";

/** Values under names the issue measured as kept, and the look-alike spellings of `password`. */
const NAMED = {
  otp_code: "Otp-Ka19", card_cvv: "Cvv-Lb28", pinCode: "Pin-Mc37", pin_code: "Pin-Nd46", mfaCode: "Mfa-Oe55",
  passcode: "Pc-Pf64", pw: "Pw-Qg73", bearer: "Br-Rh82", authHeader: "Ah-Si91", accessKey: "Ak-Tj10",
  aws_access_key_id: "Aws-Uk29", credentials: "Cr-Vl38", privKey: "Pk-Wm47", securityCode: "Sc-Xn56", auth_code: "Ac-Yo65",
  "pass\u200Bword": "Zw-Zp74", "раssword": "Cyr-Aq83", "ｐａｓｓｗｏｒｄ": "Fw-Br92", "passw0rd": "Leet-Cs01",
};
const BY_VALUE = { card: CARD, cardSpaced: CARD_SPACED, jwt: JWT.split(".")[1], aws: AWS, pem: PEM_BODY, bearer: BEARER.slice(7) };
const IN_URLS = { resetToken: RESET_TOKEN, code: "Code-Dt10", key: "Key-Eu29", pw: "Qpw-Fv38", authCode: "Qac-Gw47" };
const IN_EVENTS = { otp: "493817", card: "5555 4444 3333 1111".replace(/ /g, "") };
const IN_SESSION = { mfa: "SessMfa-Hx56" };

function Account(props: { email: string; note: string; extra?: unknown }) {
  return h("main", null, h("p", null, props.email), h("p", null, props.note));
}

test("every measured leak: secret names in any spelling, secrets by value, URLs, event names, session data — in no file the library writes", async () => {
  const dir = tempDir();
  const replay = createReplay({
    views: { Account },
    storage: fileStorage({ path: dir }),
    session: () => ({ userId: "u-1", mfaCode: IN_SESSION.mfa }),
  });
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "worker");
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    const extra = {
      neutral: { note: `card ${CARD_SPACED}`, header: BEARER, blob: PEM, id: JWT, keyId: AWS },
      map: new Map<unknown, unknown>([[JWT, "jwt as a key"], ["pin", "Pin-Map-Iy65"], ["ok", EMAIL]]),
      set: new Set([AWS, "plain"]),
      pairs: [["password", "Pair-Jz74"], ["email", EMAIL]],
      numeric: Number(CARD),
    };
    app.get("/account", (c) => c.var.replay.render(Account, { email: EMAIL, note: "hello", extra }));
    app.get("/reset/:id", (c) => c.var.replay.render(Account, { email: EMAIL, note: "reset", extra }));
    app.post("/account", async (c) => {
      const json = (c.req.header("content-type") ?? "").includes("json");
      const body = json ? await c.req.json() : await c.req.parseBody();
      return c.var.replay.render(Account, { email: String(body.email ?? EMAIL), note: "saved", extra: { body } });
    });

    const first = await app.request("/account");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      app.request("/account", { method: "POST", body, headers: { cookie, ...headers } });
    assert.is((await post(new URLSearchParams({ email: EMAIL, ...NAMED }))).status, 200);
    assert.is((await post(JSON.stringify({ email: EMAIL, nested: { ...NAMED } }), { "content-type": "application/json" })).status, 200);
    assert.is((await post(JSON.stringify({ email: EMAIL, memo: `token ${BEARER} card ${CARD}` }), { "content-type": "application/json" })).status, 200);
    // Event names as the client sends them.
    assert.is((await post(new URLSearchParams({ email: EMAIL }), { "x-replay-event": `verify otp_code=${IN_EVENTS.otp}` })).status, 200);
    assert.is((await post(new URLSearchParams({ email: EMAIL, _event: `pay ${IN_EVENTS.card}` }))).status, 200);
    // URLs: a token in a path segment, secret query names not on any list.
    assert.is((await app.request(`/reset/${RESET_TOKEN}`, { headers: { cookie } })).status, 200);
    const q = `code=${IN_URLS.code}&key=${IN_URLS.key}&pw=${IN_URLS.pw}&auth_code=${IN_URLS.authCode}&ref=mail`;
    assert.is((await app.request(`/account?${q}`, { headers: { cookie } })).status, 200);

    const secrets = { ...NAMED, ...BY_VALUE, ...IN_URLS, ...IN_EVENTS, ...IN_SESSION, mapPin: "Pin-Map-Iy65", pair: "Pair-Jz74" };
    await replay.flush();
    assertAbsent(filesUnder(join(dir, ".journal")), secrets, "the journal");
    await replay.close();
    assertAbsent(filesUnder(dir), secrets, "the storage directory");

    const [summary] = await replay.store.listRecordingSummaries();
    const recording = await replay.store.getRecording(summary.id);
    const text = JSON.stringify(recording.events, (_, v) => v instanceof Map || v instanceof Set ? [...v] : v);
    for (const what of ["card number", "JWT", "bearer credential", "AWS access key id", "private key", "token"]) {
      assert.ok(text.includes(`[redacted: ${what}]`), `a marker says a ${what} was removed`);
    }
    const names = recording.events.filter((e) => e.kind === "event").map((e) => (e as { name: string }).name);
    assert.ok(names.includes("verify otp_code=[redacted]"), names.join(" | "));
    assert.ok(names.includes("pay [redacted: card number]"), names.join(" | "));
    const urls = recording.events.filter((e) => e.kind === "params").map((e) => (e as { url: string }).url);
    assert.ok(urls.some((u) => u.includes("/reset/%5Bredacted%3A%20token%5D")), urls.join(" | "));
    assert.ok(urls.some((u) => u.endsWith("code=%5Bredacted%5D&key=%5Bredacted%5D&pw=%5Bredacted%5D&auth_code=%5Bredacted%5D&ref=mail")), urls.join(" | "));
    assert.equal((recording.events[0] as { session: unknown }).session, { userId: "u-1" });
  } finally {
    await replay.close();
  }
});

// ---- the fidelity hash is no oracle ----

function PinPage(props: { email: string; pin?: string }) {
  return h("form", null, h("input", { name: "email", value: props.email }), h("input", { name: "pin", value: props.pin ?? "" }));
}

/** What an attacker holding the recording does: render every 4-digit PIN and compare with the stored hash, plain or keyed with a key they guess. */
function bruteForce(recording: Recording, hashOf: (html: string) => string): string | undefined {
  const mount = recording.events[0] as unknown as { assigns: { email: string }; htmlHash?: string };
  for (let n = 0; n < 10_000; n++) {
    const pin = String(n).padStart(4, "0");
    if (hashOf(renderView(PinPage, { ...mount.assigns, pin })) === mount.htmlHash) return pin;
  }
  return undefined;
}

async function recordPin(options: { fidelityKey?: string; sanitizer?: Partial<Sanitizer> }): Promise<{ recording: Recording; bytes: Uint8Array; player: Player }> {
  const storage = memoryStorage();
  const replay = createReplay({ views: { PinPage }, storage, worker: false, ...options });
  try {
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    app.get("/pin", (c) => c.var.replay.render(PinPage, { email: EMAIL, pin: "4821" }));
    const first = await app.request("/pin");
    await app.request("/pin?again=1", { headers: { cookie: first.headers.get("set-cookie")!.split(";")[0] } });
    await replay.close();
    const [summary] = await replay.store.listRecordingSummaries();
    const bytes = await storage.load(summary.id);
    const recording = decodeRecordingFile(summary.id, bytes);
    return { recording, bytes, player: replay.player(recording) };
  } finally {
    await replay.close();
  }
}

test("a PIN the sanitizer dropped cannot be brute-forced from a downloaded recording's fidelity hash", async () => {
  // The attack works against the old, plain hash: the harness is sound.
  const plain = shortHash(renderView(PinPage, { email: EMAIL, pin: "4821" }));
  assert.is(bruteForce({ events: [{ kind: "mount", t: 0, url: "", params: {}, session: {}, assigns: { email: EMAIL }, htmlHash: plain }] } as unknown as Recording, shortHash), "4821");

  for (const options of [{}, { fidelityKey: "k-" + "9".repeat(30) }]) {
    const { recording, player } = await recordPin(options);
    const mount = recording.events[0] as { assigns: Record<string, unknown>; htmlHash?: string };
    assert.equal(mount.assigns, { email: EMAIL }, "the PIN itself is dropped");
    assert.ok(isKeyedHash(mount.htmlHash ?? ""), "keyed, because something was removed");
    assert.is(bruteForce(recording, shortHash), undefined, "the plain hash finds nothing");
    assert.is(bruteForce(recording, (html) => shortHash("#" + html)), undefined);
    // The recorder's own player has the key: it knows the replay cannot show what the page showed (the PIN).
    assert.equal(player.fidelity().differing, [0, 1]);
    // A player without the key cannot tell — it does not claim a difference.
    assert.is(new Player(recording, PinPage).fidelity().unknown, player.frameCount);
  }
});

test("a custom sanitizeAssigns that drops a field and hands the rest to the default one: the hash is still keyed", async () => {
  const dropsPin: Partial<Sanitizer> = { sanitizeAssigns: ({ pin: _pin, ...rest }) => defaultSanitizer().sanitizeAssigns(rest) };
  const { recording } = await recordPin({ sanitizer: dropsPin });
  const mount = recording.events[0] as { assigns: Record<string, unknown>; htmlHash?: string };
  assert.equal(mount.assigns, { email: EMAIL }, "control: the custom sanitizer dropped the PIN, the default one nothing");
  assert.ok(isKeyedHash(mount.htmlHash ?? ""), "keyed: the default sanitizer's exact copy says nothing of what the custom one removed");
  assert.is(bruteForce(recording, (html) => "=" + pageHash(html)), undefined, "the plain hash of the page would give the PIN away");
});

test("keyed hashes: the digest form tells every one-character change, and the older forms (FNV digest, whole page) still verify", () => {
  const key = "k-" + "7".repeat(30);
  const html = renderView(PinPage, { email: EMAIL, pin: "4821" });
  const hash = fidelityHash(html, key, true, true);
  assert.ok(hash.startsWith("&") && isKeyedHash(hash));
  assert.is(verifyFidelity(html, hash, key), true);
  assert.is(verifyFidelity(html, hash, undefined), undefined, "without the key: unknown, never an oracle");
  // Every position, the tail (length not a multiple of four) included.
  for (let i = 0; i < html.length; i++) {
    const changed = html.slice(0, i) + String.fromCharCode(html.charCodeAt(i) ^ 1) + html.slice(i + 1);
    assert.is(verifyFidelity(changed, hash, key), false, `a change at ${i} of ${html.length}`);
  }
  assert.is(verifyFidelity(html + " ", hash, key), false, "one character longer");
  const older = "#" + createHmac("sha256", key).update(html).digest().readUInt32BE(0).toString(36);
  assert.is(verifyFidelity(html, older, key), true);
  assert.is(verifyFidelity(html + " ", older, key), false);
  const fnv = "%" + shortHmac32(key, contentDigest(html)).toString(36);
  assert.is.not(fnv.slice(1), hash.slice(1), "the FNV form is a different digest");
  assert.is(verifyFidelity(html, fnv, key), true);
  assert.is(verifyFidelity(html + " ", fnv, key), false);
  assert.is(verifyFidelity(html, fnv, undefined), undefined);
});

test("the plain hash (nothing removed, no key configured) tells a changed page, and the bare form of older recordings still verifies", () => {
  const html = renderView(PinPage, { email: EMAIL });
  const hash = fidelityHash(html, "process-key", false, true);
  assert.ok(hash.startsWith("=") && !isKeyedHash(hash));
  assert.is(verifyFidelity(html, hash, undefined), true);
  assert.is(verifyFidelity(html.replace("@", "#"), hash, undefined), false);
  assert.is(verifyFidelity(html, shortHash(html), undefined), true);
  assert.is(verifyFidelity(html + " ", shortHash(html), undefined), false);
});

test("frames from which nothing was removed keep the plain hash: verifiable in any process", async () => {
  const replay = createReplay({ views: { PinPage }, storage: memoryStorage(), worker: false });
  try {
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    app.get("/pin", (c) => c.var.replay.render(PinPage, { email: EMAIL }));
    const first = await app.request("/pin");
    await app.request("/pin?again=1", { headers: { cookie: first.headers.get("set-cookie")!.split(";")[0] } });
    await replay.close();
    const [summary] = await replay.store.listRecordingSummaries();
    const recording = await replay.store.getRecording(summary.id);
    assert.not.ok(isKeyedHash((recording.events[0] as { htmlHash: string }).htmlHash));
    assert.is(new Player(recording, PinPage).fidelity().identical, 2, "a player in another process, without any key");
  } finally {
    await replay.close();
  }
});

// ---- session ids ----

test("a session id the server did not issue is replaced; one signed with the shared secret is kept across instances", async () => {
  const make = (secret: string, trustProxy = false) => {
    const replay = createReplay({ views: { PinPage }, storage: memoryStorage(), worker: false, secret, trustProxy });
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    app.get("/pin", (c) => c.var.replay.render(PinPage, { email: EMAIL }));
    return { replay, app };
  };
  const a = make("shared-secret-0123456789");
  const b = make("shared-secret-0123456789");
  const other = make("another-secret-987654321");
  try {
    const forged = "hono_replay=" + "a".repeat(24);
    const res = await a.app.request("/pin", { headers: { cookie: forged } });
    const issued = res.headers.get("set-cookie")!.split(";")[0];
    assert.ok(issued.startsWith("hono_replay="), issued);
    assert.is.not(issued.split("!")[0], forged, "the client's choice is not the session");
    const forgedLong = "hono_replay=" + "a".repeat(24) + "0".repeat(32);
    assert.ok((await a.app.request("/pin", { headers: { cookie: forgedLong } })).headers.get("set-cookie"), "a made-up signature is replaced too");
    const sidOf = (setCookie: string | null) => setCookie?.split(";")[0].split("!")[0];
    // Another instance with the same secret continues the session.
    const continued = await b.app.request("/pin?x=1", { headers: { cookie: issued } });
    assert.is(sidOf(continued.headers.get("set-cookie")) ?? sidOf(issued), sidOf(issued));
    // A server with another secret does not accept it.
    const elsewhere = await other.app.request("/pin", { headers: { cookie: issued } });
    assert.is.not(sidOf(elsewhere.headers.get("set-cookie")), sidOf(issued));
  } finally {
    await Promise.all([a.replay.close(), b.replay.close(), other.replay.close()]);
  }
  // Secure and __Host- follow x-forwarded-proto only behind a trusted proxy.
  const behind = make("s-0123456789abcdef", true);
  const direct = make("s-0123456789abcdef", false);
  try {
    const viaProxy = (await behind.app.request("http://app.test/pin", { headers: { "x-forwarded-proto": "https" } })).headers.get("set-cookie")!;
    assert.match(viaProxy, /^__Host-hono_replay=/);
    assert.match(viaProxy, /; Secure/);
    assert.not.match(viaProxy, /Domain=/);
    const spoofed = (await direct.app.request("http://app.test/pin", { headers: { "x-forwarded-proto": "https" } })).headers.get("set-cookie")!;
    assert.match(spoofed, /^hono_replay=/);
    assert.not.match(spoofed, /Secure/);
    const https = (await direct.app.request("https://app.test/pin")).headers.get("set-cookie")!;
    assert.match(https, /^__Host-hono_replay=.*; Secure/);
  } finally {
    await Promise.all([behind.replay.close(), direct.replay.close()]);
  }
});

// ---- allowlist mode ----

test("allowlist mode through the demo app: only listed assigns and params are stored, the rest is a marker", async () => {
  const dir = tempDir();
  const { app, replay } = createDemoApp({
    storage: fileStorage({ path: dir }),
    allowlist: { views: { SignupForm: { assigns: ["form.email", "errors", "strength"], params: ["email"] } } },
  });
  try {
    const first = await app.request("/signup?campaign=Spring-Kx12");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    const body = new URLSearchParams({ name: "Ada Byron-Lz93", email: EMAIL, password: "Hunter2-Secret!" });
    assert.is((await app.request("/signup/validate", { method: "POST", body, headers: { cookie } })).status, 200);
    await replay.close();
    assertAbsent(filesUnder(dir), { name: "Ada Byron-Lz93", password: "Hunter2-Secret!", campaign: "Spring-Kx12" }, "the storage directory");
    const [summary] = await replay.store.listRecordingSummaries();
    const recording = await replay.store.getRecording(summary.id);
    const mount = recording.events[0] as { url: string; assigns: Record<string, unknown>; params: Record<string, unknown> };
    assert.is(mount.url, "http://localhost/signup?campaign=%5Bredacted%3A+not+in+allowlist%5D");
    assert.equal(mount.params, { campaign: "[redacted: not in allowlist]" });
    assert.equal(mount.assigns.form, { name: "[redacted: not in allowlist]", email: "" });
    assert.is(mount.assigns.submitted, "[redacted: not in allowlist]");
    assert.equal(Object.keys(mount.assigns.errors as object).sort(), ["email", "name"]);
    const event = recording.events.find((e) => e.kind === "event") as { params: Record<string, unknown> };
    assert.equal(event.params, { name: "[redacted: not in allowlist]", email: EMAIL });
    assert.ok(recording.events.some((e) => e.kind === "render" && JSON.stringify(e.changed).includes(EMAIL)));
  } finally {
    await replay.close();
  }
});

// ---- files ----

test("files the library writes are owner-only (0600), directories 0700: recordings, index, segments, journal", async () => {
  if (process.platform === "win32") return;
  const dir = tempDir();
  const replay = createReplay({ views: { PinPage }, storage: fileStorage({ path: dir }) });
  try {
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    app.get("/pin", (c) => c.var.replay.render(PinPage, { email: EMAIL }));
    const first = await app.request("/pin");
    await app.request("/pin?again=1", { headers: { cookie: first.headers.get("set-cookie")!.split(";")[0] } });
    await replay.flush();
    await replay.store.listActive(); // segments written
    const during = filesUnder(dir);
    await replay.close();
    const all = [...during, ...filesUnder(dir)];
    assert.ok(all.some((f) => f.path.endsWith(".hrp")) && all.some((f) => f.path.includes(".journal")), "recordings and a journal were written");
    const open = all.filter((f) => (f.mode & 0o077) !== 0).map((f) => `${f.path} ${(f.mode & 0o777).toString(8)}`);
    assert.equal(open, [], "nothing readable by group or others");
  } finally {
    await replay.close();
  }
});

test.run();
