/**
 * The default sanitizer: secrets are dropped at any depth, whatever the app
 * puts in its assigns comes out as plain bounded data, and nothing makes it throw.
 */

import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, encode, memoryStorage, type Recording, type ReplayEnv, type ReplayOptions } from "../mod.ts";
import { defaultLimits, defaultSanitizer, isSensitiveKey, type SanitizeLimits, sanitizeRecord, sanitizeValue } from "./mod.ts";
import { isExactCopy } from "./sanitize.ts";

const SENSITIVE = [
  "password",
  "Password",
  "PASSWORD",
  "current_password",
  "passwordConfirmation",
  "api_key",
  "x-api-key",
  "X-API-KEY",
  "apiKey",
  "accessToken",
  "refresh_token",
  "client_secret",
  "Authorization",
  "authorization",
  "cookie",
  "Set-Cookie",
  "csrf_token",
  "_csrf",
  "sessionId",
  "session_id",
  "SESSION_ID",
  "sid",
];
const ORDINARY = ["name", "email", "title", "todos", "filter", "session", "author", "description", "passage", "sidebar", "id", "userId", "count"];

test("isSensitiveKey matches every case and style of secret, and not ordinary keys", () => {
  for (const key of SENSITIVE) assert.ok(isSensitiveKey(key), `${key} is sensitive`);
  for (const key of ORDINARY) assert.not.ok(isSensitiveKey(key), `${key} is ordinary`);
});

test("sensitive keys are dropped at the top level and ordinary keys kept", () => {
  const input: Record<string, unknown> = { name: "Ada", email: "ada@example.com", count: 3 };
  for (const key of SENSITIVE) input[key] = `secret-${key}`;
  const out = sanitizeRecord(input);
  assert.equal(out, { name: "Ada", email: "ada@example.com", count: 3 });
  assert.not.match(JSON.stringify(out), "secret-");
});

test("sensitive keys are dropped at any depth: nested objects, arrays, Maps and class instances", () => {
  class Account {
    constructor(public login: string, public password: string, public meta: Record<string, unknown>) {}
  }
  const input = {
    user: { profile: { name: "Ada", api_key: "s1", deeper: { accessToken: "s2", ok: true } } },
    list: [{ title: "a", client_secret: "s3" }, [{ Authorization: "s4", keep: 1 }]],
    headers: new Map<unknown, unknown>([
      ["x-api-key", "s5"],
      ["accept", "text/html"],
      [1, { cookie: "s6", n: 1 }],
    ]),
    account: new Account("ada", "s7", { refresh_token: "s8", theme: "dark" }),
  };
  const out = sanitizeRecord(input) as typeof input;
  const text = encode(out);
  for (let i = 1; i <= 8; i++) assert.not.match(text, `"s${i}"`, `secret s${i} is gone`);
  assert.equal(out.user, { profile: { name: "Ada", deeper: { ok: true } } });
  assert.equal(out.list, [{ title: "a" }, [{ keep: 1 }]]);
  assert.instance(out.headers, Map);
  assert.equal(out.headers, new Map<unknown, unknown>([["accept", "text/html"], [1, { n: 1 }]]));
  assert.equal(out.account as unknown, { __class: "Account", login: "ada", meta: { theme: "dark" } });
});

test("values kept as they are: primitives, Date, RegExp, Set, Uint8Array (a copy)", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const input = { s: "x", n: 1.5, b: false, big: 10n, u: undefined, nul: null, d: new Date(3), re: /a/g, set: new Set([1, "a"]), bytes };
  const out = sanitizeRecord(input) as typeof input;
  assert.equal(out, input);
  assert.ok("u" in out);
  assert.ok(out.bytes !== bytes, "the bytes are copied, so a later mutation is not recorded");
});

test("functions, class instances and errors are compacted", () => {
  class Cart {
    items = [1, 2];
    total() {
      return 3;
    }
  }
  const out = sanitizeRecord({
    onClick: () => 1,
    named: function handler() {},
    list: [function () {}],
    cart: new Cart(),
    error: new TypeError("boom"),
    custom: Object.assign(new Error("bad"), { name: "ValidationError", password: "s" }),
    sym: Symbol("tag"),
  });
  assert.is(out.onClick, "[Function onClick]");
  assert.is(out.named, "[Function handler]");
  assert.equal(out.list, ["[Function anonymous]"]);
  assert.equal(out.cart, { __class: "Cart", items: [1, 2] });
  assert.equal(out.error, { __class: "TypeError", message: "boom" });
  assert.equal(out.custom, { __class: "ValidationError", message: "bad" });
  assert.is(out.sym, "Symbol(tag)");
  assert.not.throws(() => encode(out));
});

test("Request, Response, streams, Promise, ArrayBuffer, Blob and friends become short strings", () => {
  const out = sanitizeRecord({
    req: new Request("http://app.test/signup", { method: "POST" }),
    res: new Response("nope", { status: 404 }),
    stream: new ReadableStream(),
    writable: new WritableStream(),
    promise: Promise.resolve(1),
    buffer: new ArrayBuffer(8),
    blob: new Blob(["abc"]),
    floats: new Float64Array(2),
    headers: new Headers({ cookie: "s" }),
    weak: new WeakMap(),
  });
  assert.equal(out, {
    req: "[Request POST http://app.test/signup]",
    res: "[Response 404]",
    stream: "[ReadableStream]",
    writable: "[WritableStream]",
    promise: "[Promise]",
    buffer: "[ArrayBuffer 8 bytes]",
    blob: "[Blob 3 bytes]",
    floats: "[Float64Array 16 bytes]",
    headers: "[Headers]",
    weak: "[WeakMap]",
  });
});

test('circular references become "[Circular]", a shared non-circular reference is kept twice', () => {
  const node: Record<string, unknown> = { name: "root" };
  node.self = node;
  node.children = [{ parent: node, name: "child" }];
  const map = new Map<string, unknown>();
  map.set("me", map);
  const out = sanitizeRecord({ node, map }) as { node: Record<string, unknown>; map: Map<string, unknown> };
  assert.equal(out.node, { name: "root", self: "[Circular]", children: [{ parent: "[Circular]", name: "child" }] });
  assert.is(out.map.get("me"), "[Circular]");

  const shared = { x: 1, tags: ["a"] };
  const twice = sanitizeRecord({ a: shared, b: shared, list: [shared, shared] });
  assert.equal(twice, { a: { x: 1, tags: ["a"] }, b: { x: 1, tags: ["a"] }, list: [{ x: 1, tags: ["a"] }, { x: 1, tags: ["a"] }] });
  assert.not.throws(() => encode(twice));
});

const small: SanitizeLimits = { maxDepth: 3, maxStringLength: 10, maxItems: 3 };

test("long strings are cut with a note of how much", () => {
  assert.is(sanitizeValue("x".repeat(25), small), "xxxxxxxxxx… [15 more characters]");
  assert.is(sanitizeValue("x".repeat(10), small), "xxxxxxxxxx");
  const big = sanitizeValue("y".repeat(50_000)) as string;
  assert.ok(big.length < defaultLimits.maxStringLength + 40);
  assert.match(big, "[40000 more characters]");
});

test("huge arrays, Sets, Maps and objects keep their head", () => {
  const out = sanitizeValue(
    {
      a: Array.from({ length: 10 }, (_, i) => i),
      s: new Set([1, 2, 3, 4, 5]),
      m: new Map(Array.from({ length: 10 }, (_, i) => [i, i])),
    },
    small,
  ) as { a: unknown[]; s: Set<number>; m: Map<number, number> };
  assert.equal(out.a, [0, 1, 2, "[… 7 more items]"]);
  assert.is(out.s.size, 3);
  assert.is(out.m.size, 3);
  const wide = sanitizeValue(Object.fromEntries(Array.from({ length: 5 }, (_, i) => ["k" + i, i])), small);
  assert.equal(wide, { k0: 0, k1: 1, k2: 2, "…": "[2 more keys]" });
  const million = sanitizeValue(new Array(1_000_000).fill(7)) as unknown[];
  assert.is(million.length, defaultLimits.maxItems + 1);
});

test("deep nesting is replaced by a summary below maxDepth", () => {
  let deep: unknown = { leaf: true };
  for (let i = 0; i < 6; i++) deep = { c: deep, arr: [1] };
  assert.equal(sanitizeValue(deep, small), { c: { c: { c: "[Object]", arr: "[Array(1)]" }, arr: [1] }, arr: [1] });

  let veryDeep: unknown = 0;
  for (let i = 0; i < 100_000; i++) veryDeep = [veryDeep];
  const out = sanitizeValue(veryDeep);
  assert.ok(encode(out).length < 200, "a 100,000-deep array is summarized, not a stack overflow");
});

test("plain objects and arrays skip the class checks but not the stream test; a Proxy of a Date is still a Date", () => {
  const streamLike = { pipe() {}, on() {}, id: 1 };
  const date = new Date(0);
  const out = sanitizeRecord({ plain: { a: [1, { b: 2 }] }, streamLike, list: Object.assign([1], { pipe() {}, on() {} }), proxied: new Proxy(date, {}) });
  assert.equal(out.plain, { a: [1, { b: 2 }] });
  assert.is(out.streamLike, "[Stream]");
  assert.is(out.list, "[Array]");
  assert.ok(out.proxied instanceof Date);
  assert.not.ok(isExactCopy(out), "a summarized stream is a loss");
  assert.ok(isExactCopy(sanitizeRecord({ plain: { a: [1, { b: 2 }] } })));
});

test("an exact copy is remembered until the next call: asked later, it is not exact (a keyed hash, never a leak)", () => {
  const whole = sanitizeRecord({ name: "Ada" });
  assert.ok(isExactCopy(whole), "control: asked at once");
  sanitizeRecord({ password: "hunter2" });
  assert.not.ok(isExactCopy(whole));
  assert.not.ok(isExactCopy({ name: "Ada" }), "an equal record the sanitizer did not return");
});

test("never throws: a Proxy whose traps throw", () => {
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error("get trap");
      },
      ownKeys() {
        throw new Error("ownKeys trap");
      },
      getPrototypeOf() {
        throw new Error("proto trap");
      },
      has() {
        throw new Error("has trap");
      },
      getOwnPropertyDescriptor() {
        throw new Error("descriptor trap");
      },
    },
  );
  let out: unknown;
  assert.not.throws(() => (out = sanitizeRecord({ ok: 1, hostile })));
  assert.not.throws(() => encode(out));
  assert.match(encode(out), "Unserializable");
  assert.not.throws(() => sanitizeRecord(hostile));
  assert.not.throws(() => sanitizeValue([hostile, hostile]));
  assert.not.throws(() => defaultSanitizer().sanitizeParams({ hostile } as Record<string, unknown>));
});

test("never throws: an object with a throwing getter keeps its other keys", () => {
  const obj = {
    ok: 1,
    get boom(): never {
      throw new Error("no reading me");
    },
  };
  const out = sanitizeRecord({ obj });
  assert.equal(out, { obj: { ok: 1, boom: "[Unreadable: no reading me]" } });
});

test("never throws: Object.create(null) is a plain record, secrets still dropped", () => {
  const bare = Object.create(null) as Record<string, unknown>;
  bare.name = "Ada";
  bare.password = "s";
  bare.inner = Object.assign(Object.create(null), { token: "s", n: 1 });
  const out = sanitizeRecord(bare);
  assert.equal(out, { name: "Ada", inner: { n: 1 } });
  assert.is(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(sanitizeRecord({ bare }), { bare: { name: "Ada", inner: { n: 1 } } });
});

test("never throws: a revoked Proxy", () => {
  const { proxy, revoke } = Proxy.revocable({ a: 1 }, {});
  revoke();
  let out: unknown;
  assert.not.throws(() => (out = sanitizeRecord({ proxy })));
  assert.not.throws(() => encode(out));
  assert.not.throws(() => sanitizeValue(proxy));
  assert.is(typeof sanitizeValue(proxy), "string");
});

test("sanitizeRecord always returns a plain record, wrapping other values", () => {
  assert.equal(sanitizeRecord("text"), { value: "text" });
  assert.equal(sanitizeRecord([1, 2]), { value: [1, 2] });
  assert.equal(sanitizeRecord(null), { value: null });
});

// ---- through createReplay ----

function Profile(props: { name: string; email: string; token?: string; n: number }) {
  return h("p", null, `${props.name} <${props.email}> #${props.n}`);
}

async function recordOneSession(options: Partial<ReplayOptions>): Promise<Recording> {
  const replay = createReplay({ views: { Profile }, storage: memoryStorage(), worker: false, ...options });
  try {
    const app = new Hono<ReplayEnv>();
    app.use(replay.recorder());
    app.get("/profile", (c) =>
      c.var.replay.render(Profile, { name: "Ada", email: "ada@example.com", token: "tok-secret", n: Number(c.req.query("n") ?? 0) })
    );
    const first = await app.request("/profile");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    await app.request("/profile?n=1&password=hunter2", { headers: { cookie } });
    await replay.flush();
    await replay.close();
    const [summary] = await replay.store.listRecordingSummaries();
    assert.ok(summary, "the session was recorded");
    return await replay.store.getRecording(summary.id);
  } finally {
    await replay.close();
  }
}

test("createReplay uses the default sanitizer: token dropped from assigns, password from params", async () => {
  const recording = await recordOneSession({});
  const mount = recording.events[0];
  assert.is(mount.kind, "mount");
  if (mount.kind !== "mount") return;
  assert.equal(mount.assigns, { name: "Ada", email: "ada@example.com", n: 0 });
  const params = recording.events.find((e) => e.kind === "params");
  assert.equal(params && params.kind === "params" && params.params, { n: "1" });
});

test("createReplay with a custom sanitizeAssigns replaces the default one", async () => {
  const seen: unknown[] = [];
  const recording = await recordOneSession({
    sanitizer: {
      sanitizeAssigns(assigns) {
        seen.push(assigns);
        const { email: _email, ...rest } = assigns;
        return { ...rest, sanitizedBy: "custom" };
      },
    },
  });
  assert.is(seen.length, 2, "called for the mount and the render");
  const mount = recording.events[0];
  if (mount.kind !== "mount") throw new Error("expected a mount first");
  // The default would have dropped `token`; the custom one keeps it and drops `email`.
  assert.equal(mount.assigns, { name: "Ada", token: "tok-secret", n: 0, sanitizedBy: "custom" });
  const render = recording.events.find((e) => e.kind === "render");
  if (!render || render.kind !== "render") throw new Error("expected a render");
  assert.equal(render.changed.n, 1);
  assert.not.ok("email" in render.changed);
  // Params still go through the default sanitizeParams.
  const params = recording.events.find((e) => e.kind === "params");
  assert.equal(params && params.kind === "params" && params.params, { n: "1" });
});

test.run();
