/**
 * Run by deno_kv.test.ts as `deno run -A --unstable-kv storage/deno_kv.fixture.ts <path>`:
 * saves fixture recordings, appends a segment of several chunks and takes a
 * claim through denoKvStorage with Deno's own Deno.openKv, so the test can
 * read them back through the other implementation.
 */

import { denoKvStorage } from "./deno_kv.ts";
import { fixtureRecording } from "./conformance.ts";

// deno-lint-ignore no-explicit-any
const path = (globalThis as any).Deno.args[0] as string;
const storage = denoKvStorage({ path });
const t0 = Date.UTC(2026, 0, 7);
const small = fixtureRecording({ id: "0deno-small", view: "SignupForm", startedAt: t0, events: 9, eventNames: ["validate"] });
const big = fixtureRecording({ id: "0deno-big", view: "TodoList", startedAt: t0 + 1000, events: 10_000, noise: 120, eventNames: ["add"] });
await storage.save(small.summary, small.bytes);
await storage.save(big.summary, big.bytes);
const unit = "frame\tü€😀\n";
const segment = { recordingId: "0deno-active", key: "deno-000001", lastAt: t0 + 2000, text: unit.repeat(20_000) };
await storage.appendSegment(segment);
if (!(await storage.claim("0deno-active", "instance-deno", 60_000))) throw new Error("the fixture's claim on a fresh database must win");
console.log(JSON.stringify({
  implementation: await storage.implementation(),
  sizes: [small.bytes.length, big.bytes.length],
  segment: { lastAt: segment.lastAt, length: segment.text.length, text: unit },
}));
await storage.close();
