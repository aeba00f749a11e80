/**
 * Section 8's names for JIT code (bench/jit_names.ts), from a perf map written
 * here: addresses inside a code object get its function's name whatever the
 * tier, a later line at the same address wins, an address outside every code
 * object says so, C++ names lose their parameters, and the map is removed once
 * read.
 */

import { existsSync, writeFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { JitNames } from "./jit_names.ts";

const BUILT = "file:///app/node_modules/.cache/hono-replay-bench-Ab12/";

test("JIT addresses are named from the child's perf map, which is then removed", () => {
  const pid = 4_000_000_000 + Math.floor(Math.random() * 1_000_000);
  const path = `/tmp/perf-${pid}.map`;
  writeFileSync(path, [
    `1000 100 JS:*pageDigest ${BUILT}recorder/page_digest.js:41:27`,
    `2000 50 JS:^ ${BUILT}recorder/index.js:91:16`,
    "3000 10 JS:*append node:internal/deps/undici/undici:9071:13",
    `5000 100 JS:~oldCode ${BUILT}worker/drain.js:1:1`,
    `5000 100 JS:+encode ${BUILT}format/codec.js:7:3`,
    "",
  ].join("\n"));
  const names = JitNames.ofChild(pid);
  const at = (address: number) => names.name("0x" + address.toString(16).padStart(16, "0"));
  assert.is(at(0x1000), "pageDigest recorder/page_digest", "the start of a code object");
  assert.is(at(0x10ff), "pageDigest recorder/page_digest", "its last byte");
  assert.is(at(0x1100), "JIT code (no name in the map)", "control: just past it");
  assert.is(at(0x2010), "(anonymous) recorder/index:91", "anonymous: the built file's line");
  assert.is(at(0x3004), "append undici/undici");
  assert.is(at(0x5050), "encode format/codec", "the later line at the same address wins");
  assert.is(names.name("v8::internal::(anonymous namespace)::IterateObjectCache(v8::internal::Isolate*, int)"), "v8::internal::IterateObjectCache");
  assert.is(names.name("Builtins_LoadIC"), "Builtins_LoadIC");
  assert.not.ok(existsSync(path), "the map is removed once read");
});

test("without a map, JIT code is unnamed and everything else still is", () => {
  const names = JitNames.ofChild(4_100_000_000);
  assert.is(names.name("0x000000000d1abf00'2"), "JIT code (no name in the map)");
  assert.is(names.name("__memset_avx2_unaligned_erms"), "__memset_avx2_unaligned_erms");
});

test.run();
