/**
 * Secrets in request bodies, session data and assigns never reach the ring, the
 * crash journal or the stored recordings: the sanitizer runs before anything is
 * serialized. Checked on the bytes themselves, recordings decompressed.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzlibSync } from "fflate";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, fileStorage, type ReplayEnv } from "../mod.ts";

const SECRETS = {
  form: "Pw-form-Qx81vZ",
  confirm: "Pw-confirm-Lk27aB",
  multipart: "Pw-multipart-Zr55cD",
  json: "Pw-json-Mn90eF",
  apiToken: "Tok-api-Yt33gH",
  csrf: "Csrf-Wq12iJ",
  session: "Sess-tok-Vb44kL",
  assign: "Pw-assign-Ur66mN",
  redirect: "Pw-redirect-Ho77pQ",
  queryToken: "Qtok-Rs88sT",
  queryPassword: "Qpw-Tu99uV",
};
const EMAIL = "ada@example.test";

function SignupForm(props: { email: string; strength: number; form: { email: string; password?: string } }) {
  return h("form", null, h("input", { name: "email", value: props.email }), h("meter", { value: props.strength }));
}

/** Every file under `dir`, recordings decompressed, as text. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      out.push(...filesUnder(path));
      continue;
    }
    let bytes: Uint8Array = readFileSync(path);
    // A recording file: 5 header bytes, then zlib.
    if (name.endsWith(".hrp")) bytes = unzlibSync(bytes.subarray(5));
    out.push({ path, text: new TextDecoder().decode(bytes) });
  }
  return out;
}

function assertNoSecrets(files: { path: string; text: string }[], where: string) {
  for (const { path, text } of files) {
    for (const [kind, secret] of Object.entries(SECRETS)) {
      assert.not.ok(text.includes(secret), `the ${kind} secret is in ${path}`);
    }
  }
  assert.ok(files.some((f) => f.text.includes(EMAIL)), `${where} does hold the recorded data (the search looks at the right bytes)`);
}

test("passwords and tokens from forms, JSON, session data and assigns appear nowhere in the journal or the stored bytes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-privacy-"));
  const replay = createReplay({
    views: { SignupForm },
    storage: fileStorage({ path: dir }),
    session: () => ({ userId: "u-1", sessionToken: SECRETS.session }),
  });
  try {
    await replay.ready;
    assert.is(replay.engine.mode, "worker");
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    const props = (email: string, password: string) => ({ email, strength: password.length, form: { email, password } });
    app.get("/signup", (c) => c.var.replay.render(SignupForm, props("", "")));
    app.post("/signup", async (c) => {
      const json = (c.req.header("content-type") ?? "").includes("json");
      const body = json ? await c.req.json() : await c.req.parseBody();
      const password = String(body.password ?? (body.user as { password?: string } | undefined)?.password ?? "");
      // The app itself puts a password into the assigns; the view never shows it.
      return c.var.replay.render(SignupForm, props(String(body.email ?? EMAIL), password || SECRETS.assign));
    });
    app.post("/login", async (c) => {
      await c.req.parseBody();
      return c.redirect("/signup", 303);
    });

    const first = await app.request("/signup");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    const post = (body: BodyInit, headers: Record<string, string> = {}, path = "/signup") =>
      app.request(path, { method: "POST", body, headers: { cookie, ...headers } });

    assert.is((await post(new URLSearchParams({
      email: EMAIL,
      password: SECRETS.form,
      password_confirmation: SECRETS.confirm,
      csrf_token: SECRETS.csrf,
      _event: "submit",
    }))).status, 200);
    const multipart = new FormData();
    multipart.set("email", EMAIL);
    multipart.set("Password", SECRETS.multipart);
    assert.is((await post(multipart)).status, 200);
    assert.is((await post(
      JSON.stringify({ email: EMAIL, user: { name: "Ada", password: SECRETS.json }, apiToken: SECRETS.apiToken }),
      { "content-type": "application/json" },
    )).status, 200);
    // A post/redirect/get whose event is recorded without a render.
    assert.is((await post(new URLSearchParams({ email: EMAIL, password: SECRETS.redirect }), {}, "/login")).status, 303);

    // A link with secrets in its query (a password-reset link, say): the URL is kept, their values are not.
    const reset = await app.request(`/signup?token=${SECRETS.queryToken}&Password=${SECRETS.queryPassword}&ref=mail`, { headers: { cookie } });
    assert.is(reset.status, 200);

    // Everything is drained and journaled; the recording is still active.
    await replay.flush();
    const journal = join(dir, ".journal");
    assertNoSecrets(filesUnder(journal), "the journal");

    await replay.close();
    assertNoSecrets(filesUnder(dir), "the storage directory");

    const [summary] = await replay.store.listRecordingSummaries();
    const recording = await replay.store.getRecording(summary.id);
    const events = recording.events.filter((e) => e.kind === "event") as { name: string; params: Record<string, unknown> }[];
    assert.equal(events.map((e) => e.name), ["submit", "POST /signup", "POST /signup", "POST /login"]);
    assert.equal(events[0].params, { email: EMAIL, _event: "submit" });
    assert.equal(events[1].params, { email: EMAIL });
    assert.equal(events[2].params, { email: EMAIL, user: { name: "Ada" } });
    assert.equal(events[3].params, { email: EMAIL });
    const visit = recording.events.find((e) => e.kind === "params") as { url: string; params: Record<string, unknown> };
    assert.is(visit.url, "http://localhost/signup?token=%5Bredacted%5D&Password=%5Bredacted%5D&ref=mail");
    assert.equal(visit.params, { ref: "mail" });
    const mount = recording.events[0] as { session: unknown };
    assert.equal(mount.session, { userId: "u-1" });
    // Replay is unaffected: the view never showed the password.
    assert.equal(replay.player(recording).fidelity().differing, []);
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
