/**
 * The codec: the "tagged" format keeps what JSON loses, user data that looks
 * like a tag survives, and the "json" format is plain, lossy JSON that never throws.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { decode, encode, encodeKey } from "./mod.ts";

const roundTrip = <T>(value: T): T => decode(encode(value)) as T;

/** The tagged encoding as it was before containers were passed through unchanged: a full copy (the oracle). */
function copyingEncode(value: unknown): string {
  const tag = (v: unknown): unknown => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return v;
      case "number":
        if (Number.isFinite(v)) return Object.is(v, -0) ? { "~": "-0" } : v;
        return { "~": Number.isNaN(v) ? "NaN" : v > 0 ? "Inf" : "-Inf" };
      case "bigint":
        return { "~": "big", v: v.toString() };
      case "object": {
        if (v === null) return null;
        if (Array.isArray(v)) return v.map(tag);
        if (v instanceof Date) return { "~": "date", v: Number.isNaN(v.getTime()) ? null : v.getTime() };
        if (v instanceof Map || v instanceof Set || v instanceof Uint8Array || v instanceof RegExp) return JSON.parse(encode(v));
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(v)) {
          const k = key.startsWith("~") ? "~" + key : key;
          const item = tag((v as Record<string, unknown>)[key]);
          if (k === "__proto__") Object.defineProperty(out, k, { value: item, enumerable: true, writable: true, configurable: true });
          else out[k] = item;
        }
        return out;
      }
      default:
        return { "~": "und" };
    }
  };
  return JSON.stringify(tag(value)) ?? "null";
}

test("encoding, which passes unchanged containers through, writes exactly what a full copy would, on 3,000 generated values", () => {
  let seed = 11;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const leaf = () => [0, 1.5, -0, NaN, Infinity, "s", "~x", true, null, undefined, 10n, new Date(5)][Math.floor(rnd() * 12)];
  const make = (depth: number): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.35) return leaf();
    if (r < 0.6) {
      const a: unknown[] = Array.from({ length: Math.floor(rnd() * 4) }, () => make(depth + 1));
      if (rnd() < 0.1) a[a.length + 1] = make(depth + 1); // a hole
      return a;
    }
    const o: Record<string, unknown> = rnd() < 0.1 ? Object.create(null) : {};
    for (let i = Math.floor(rnd() * 4); i > 0; i--) {
      // defineProperty: assigning "__proto__" would set the prototype instead of a key.
      Object.defineProperty(o, ["a", "b", "~c", "__proto__", "d"][Math.floor(rnd() * 5)], { value: make(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  let same = 0;
  for (let n = 0; n < 3_000; n++) {
    const value = make(0);
    assert.is(encode(value), copyingEncode(value), String(n));
    assert.equal(decode(encode(value)), decode(copyingEncode(value)));
    if (typeof value === "object" && value !== null) same++;
  }
  assert.ok(same > 500, `${same} containers among the generated values`);
  // A class instance with toJSON is still copied (its own keys), as before.
  class Point {
    constructor(readonly x: number) {}
    toJSON() {
      return "point";
    }
  }
  assert.is(encode({ p: new Point(1) }), copyingEncode({ p: new Point(1) }));
});

test("Date round trips as a Date with the same time", () => {
  const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  const back = roundTrip(when);
  assert.instance(back, Date);
  assert.is(back.getTime(), when.getTime());
  assert.is(roundTrip(new Date(-1)).getTime(), -1);
});

test("an invalid Date comes back as an invalid Date, not null or a number", () => {
  const back = roundTrip(new Date("not a date"));
  assert.instance(back, Date);
  assert.ok(Number.isNaN(back.getTime()));
});

test("Map keeps non-string keys and their types", () => {
  const objectKey = { id: 1 };
  const map = new Map<unknown, unknown>([
    [1, "one"],
    ["1", "string one"],
    [true, "yes"],
    [null, "nothing"],
    [2n, "big"],
    [objectKey, [1, 2]],
    [new Date(5), "date key"],
  ]);
  const back = roundTrip(map);
  assert.instance(back, Map);
  assert.is(back.size, 7);
  assert.is(back.get(1), "one");
  assert.is(back.get("1"), "string one");
  assert.is(back.get(true), "yes");
  assert.is(back.get(null), "nothing");
  assert.is(back.get(2n), "big");
  assert.equal(back, map);
  const keys = [...back.keys()];
  assert.instance(keys[6], Date);
  assert.is((keys[6] as Date).getTime(), 5);
});

test("Set round trips, including objects and mixed types", () => {
  const set = new Set<unknown>([1, "1", 1n, { a: 1 }, null, "x"]);
  const back = roundTrip(set);
  assert.instance(back, Set);
  assert.is(back.size, 6);
  assert.ok(back.has(1) && back.has("1") && back.has(1n) && back.has(null));
  assert.equal(back, set);
});

test("BigInt round trips, beyond the safe integer range and negative", () => {
  for (const n of [0n, 1n, -1n, 2n ** 70n, -(2n ** 64n) + 3n]) {
    const back = roundTrip(n);
    assert.is(typeof back, "bigint");
    assert.is(back, n);
  }
  assert.equal(roundTrip({ total: 9007199254740993n }), { total: 9007199254740993n });
});

test("undefined round trips at the top level, in arrays and as a Map value", () => {
  assert.is(roundTrip(undefined), undefined);
  assert.is(encode(undefined), '{"~":"und"}');

  const arr = roundTrip([1, undefined, "x", undefined]);
  assert.is(arr.length, 4);
  assert.is(arr[1], undefined);
  assert.is(arr[3], undefined);
  assert.is(arr[2], "x");

  const map = roundTrip(new Map<string, unknown>([["a", undefined], ["b", 2]]));
  assert.ok(map.has("a"), "the key with an undefined value is kept");
  assert.is(map.get("a"), undefined);
  assert.is(map.get("b"), 2);
});

test("an undefined property stays a property, and an undefined array item stays a slot", () => {
  const back = roundTrip({ a: undefined, b: 1 }) as Record<string, unknown>;
  assert.equal(Object.keys(back), ["a", "b"]);
  assert.is(back.a, undefined);
  const items = roundTrip([1, undefined, 2]) as unknown[];
  assert.ok(1 in items, "no hole: a view mapping over the array renders every item");
  assert.is(items.map((i) => String(i)).join(","), "1,undefined,2");
});

test("a __proto__ key is data, not a prototype", () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": true}, "~x": 1}');
  const back = roundTrip(hostile) as Record<string, unknown>;
  assert.ok(Object.hasOwn(back, "__proto__"));
  assert.is(Object.getPrototypeOf(back), Object.prototype);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test("NaN, ±Infinity and -0 round trip", () => {
  assert.ok(Number.isNaN(roundTrip(NaN)));
  assert.is(roundTrip(Infinity), Infinity);
  assert.is(roundTrip(-Infinity), -Infinity);
  assert.ok(Object.is(roundTrip(-0), -0), "-0 stays -0");
  assert.ok(Object.is(roundTrip(0), 0), "0 stays +0");
  const back = roundTrip({ values: [NaN, Infinity, -Infinity, -0, 0, 1.5] });
  assert.ok(Number.isNaN(back.values[0]));
  assert.is(back.values[1], Infinity);
  assert.is(back.values[2], -Infinity);
  assert.ok(Object.is(back.values[3], -0));
  assert.ok(Object.is(back.values[4], 0));
  assert.is(back.values[5], 1.5);
});

test("Uint8Array of every length 0..5 round trips byte for byte (base64 padding)", () => {
  for (let length = 0; length <= 5; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => [0, 255, 128, 1, 254][i]);
    const back = roundTrip(bytes);
    assert.instance(back, Uint8Array);
    assert.is(back.length, length, `length ${length}`);
    assert.equal([...back], [...bytes], `bytes of length ${length}`);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal([...roundTrip(all)], [...all]);
});

test("RegExp keeps source and flags", () => {
  const re = /^a+(b|c)\/\d{2}$/gimsu;
  const back = roundTrip(re);
  assert.instance(back, RegExp);
  assert.is(back.source, re.source);
  assert.is(back.flags, re.flags);
  assert.ok(back.test("aab/12"));
});

test("nested combinations round trip", () => {
  const value = {
    user: { name: "Ada", joined: new Date(1_000), visits: 12n },
    byDay: new Map<unknown, unknown>([
      [new Date(0), new Set([1, 2, new Map([["deep", [undefined, NaN, -0]]])])],
      [3, { bytes: new Uint8Array([1, 2, 3]), pattern: /x/g }],
    ]),
    list: [[new Set(["a"])], { inner: [Infinity, { when: new Date(7) }] }],
  };
  const back = roundTrip(value);
  assert.equal(back, value);
  const set = [...back.byDay.values()][0] as Set<unknown>;
  const innerMap = [...set][2] as Map<string, unknown[]>;
  const deep = innerMap.get("deep")!;
  assert.is(deep[0], undefined);
  assert.ok(Number.isNaN(deep[1]));
  assert.ok(Object.is(deep[2], -0));
});

test('user objects whose keys start with "~" come back unchanged', () => {
  const lookalike = { "~": "date", v: 1 };
  const back = roundTrip(lookalike);
  assert.not.instance(back, Date);
  assert.equal(back, { "~": "date", v: 1 });

  assert.equal(roundTrip({ "~~x": 1 }), { "~~x": 1 });
  assert.equal(roundTrip({ "~": "no such tag" }), { "~": "no such tag" }, "would throw if it were read as a tag");
  assert.equal(roundTrip({ "~und": 1, plain: 2 }), { "~und": 1, plain: 2 });

  const nested = [{ a: { "~": "big", v: "1" } }, new Map([["k", { "~~": true }]])];
  const nestedBack = roundTrip(nested);
  assert.equal(nestedBack, nested);
  assert.is(typeof (nestedBack[0] as { a: { v: unknown } }).a.v, "string", "not revived as a BigInt");
});

test("encodeKey escapes a leading ~ in the tagged format only, and splices into hand-built JSON", () => {
  assert.is(encodeKey("name"), '"name"');
  assert.is(encodeKey("~x"), '"~~x"');
  assert.is(encodeKey("~"), '"~~"');
  assert.is(encodeKey("a~"), '"a~"');
  assert.is(encodeKey('quo"te'), '"quo\\"te"');
  assert.is(encodeKey("~x", "json"), '"~x"');

  // The recorder builds objects from encoded keys and values this way.
  const text = "{" + encodeKey("~x") + ":" + encode(5n) + "," + encodeKey("~") + ":" + encode("date") + "}";
  assert.equal(decode(text), { "~x": 5n, "~": "date" });
});

test('the "json" format is plain JSON: lossy, but never throws', () => {
  const text = encode(
    {
      big: 2n ** 70n,
      map: new Map<unknown, unknown>([[1, "a"], ["b", 2n]]),
      set: new Set([1, 2]),
      when: new Date(0),
      bytes: new Uint8Array([1, 2]),
      re: /x/g,
      nan: NaN,
      gone: undefined,
    },
    "json",
  );
  const back = JSON.parse(text);
  assert.equal(back, {
    big: "1180591620717411303424",
    map: { 1: "a", b: "2" },
    set: [1, 2],
    when: "1970-01-01T00:00:00.000Z",
    bytes: [1, 2],
    re: "/x/g",
    nan: null,
  });
  assert.equal(decode(text, "json"), back);
  assert.not.match(text, /"~"/, "no tags in the json format");
  assert.is(encode(undefined, "json"), "null");
  assert.is(encode(10n, "json"), '"10"');
  assert.is(encode(new Date("nope"), "json"), "null");
});

test('decoding "json" never interprets tags', () => {
  assert.equal(decode('{"~":"date","v":1}', "json"), { "~": "date", v: 1 });
  assert.equal(decode('{"~":"whatever"}', "json"), { "~": "whatever" });
});

test("decoding an unknown tag throws SyntaxError", () => {
  assert.throws(() => decode('{"~":"nope"}'), (error: unknown) => error instanceof SyntaxError && /unknown tag/.test((error as Error).message));
  assert.throws(() => decode('[1,{"a":{"~":"bogus","v":1}}]'), (error: unknown) => error instanceof SyntaxError);
  assert.throws(() => decode('{"~":"u8","v":"!!"}'), (error: unknown) => error instanceof SyntaxError, "bad base64");
});

test("functions and symbols never make encode throw", () => {
  assert.equal(roundTrip([() => 1, Symbol("s")]).length, 2);
  assert.not.throws(() => encode({ f() {}, s: Symbol("s") }));
  assert.not.throws(() => encode({ f() {}, big: 1n, m: new Map([[1n, new Set([2n])]]) }, "json"));
});

test.run();
