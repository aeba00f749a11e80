/**
 * Section 8b's count of perf samples (bench/native_samples.ts): only the
 * request thread's (tid = pid), JIT code named without tier or column, C++
 * without parameters, one name however many tiers a function ran at.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { requestThreadSamples } from "./native_samples.ts";

const BUILT = "file:///app/node_modules/.cache/hono-replay-bench-Ab12/";

test("the request thread's samples, by function", () => {
  const script = [
    `  4242/4242      7f00001000 JS:*pageDigest ${BUILT}recorder/page_digest.js:41:27 (/tmp/perf-4242.map)`,
    `  4242/4242      7f00001010 JS:^pageDigest ${BUILT}recorder/page_digest.js:41:27 (/tmp/perf-4242.map)`,
    "  4242/4242      55550001 v8::internal::Heap::CombinedGenerationalAndSharedEphemeronBarrierSlow(v8::internal::HeapObject, unsigned long, v8::internal::HeapObject) (/usr/bin/node)",
    "  4242/4242  ffffffff81000000 asm_exc_page_fault ([kernel.kallsyms])",
    "  4242/4242      7f0000ff00 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)",
    "  4242/4242      7f00002000 RegExp:(?<pem>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----) (/tmp/perf-4242.map)",
    `  4242/4250      7f00001000 JS:*drainOnce ${BUILT}worker/engine.js:10:3 (/tmp/perf-4242.map)`,
    "  4242/4251      55550002 v8::internal::Scavenger::ScavengePage(v8::internal::MemoryChunk*) (/usr/bin/node)",
    "",
  ].join("\n");
  const { total, byFunction } = requestThreadSamples(script);
  assert.is(total, 6, "the other threads' samples are left out");
  assert.is(byFunction.get("pageDigest recorder/page_digest"), 2, "one name for both tiers");
  assert.is(byFunction.get("v8::internal::Heap::CombinedGenerationalAndSharedEphemeronBarrierSlow"), 1);
  assert.is(byFunction.get("asm_exc_page_fault"), 1);
  assert.is(byFunction.get("[unknown] libc.so.6"), 1);
  assert.is(byFunction.get("RegExp:(?<pem>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE K…"), 1, "a regular expression by the start of its source");
  assert.not.ok(byFunction.has("drainOnce worker/engine"), "a worker's function is not the request thread's");
});

test("lines that are not samples count for nothing", () => {
  assert.is(requestThreadSamples("\nperf: some warning\n  12/12\n").total, 0);
});

test.run();
