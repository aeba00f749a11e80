/**
 * The conformance suite every storage backend passes, for any test runner:
 * `storageConformance(target)` returns the cases, and `register(test)` hands
 * them to a runner whose `test(name, fn)` runs `fn` — node:test, Deno.test,
 * vitest, bun:test, uvu. A backend's test file is
 *
 *   import { test } from "node:test";
 *   import { storageConformance } from "hono-replay/conformance";
 *   storageConformance({ name: "mine", open: () => myStorage() }).register(test);
 *
 * Invariants: it needs nothing but the library and the runtime (assertions
 * are node:assert, which Node, Deno and Bun all have); the cases run in order,
 * on one storage opened before the first and closed after the last, cleared
 * before each (conformance/harness.ts).
 *
 * It covers, one module of conformance/ each, in this order:
 *   recordings.ts  save/load, replace
 *   listing.ts     list with every filter, sort and page
 *   removal.ts     delete, clear, cleanup by age and by count (also from two instances at once)
 *   robustness.ts  concurrent writers, a 10,000-event recording, unknown and hostile ids, corrupt stored data
 *   segments.ts    segments, claims and the shared secret: what instances sharing the store rely on
 *   session.ts     a session recorded through createReplay
 *   erasure.ts     erasure marks, and erasure end to end
 *
 * The fixtures (conformance/fixtures.ts) are built with the format helpers, the
 * way the drain engine builds recordings, so they are real recording files.
 */

import { erasureCases } from "./conformance/erasure.ts";
import { type ConformanceSuite, conformanceSuite, Harness, type StorageUnderTest } from "./conformance/harness.ts";
import { listingCases } from "./conformance/listing.ts";
import { saveLoadCases } from "./conformance/recordings.ts";
import { removalCases } from "./conformance/removal.ts";
import { robustnessCases } from "./conformance/robustness.ts";
import { segmentCases } from "./conformance/segments.ts";
import { sessionCases } from "./conformance/session.ts";

export type { ConformanceCase, ConformanceSuite, StorageUnderTest } from "./conformance/harness.ts";
export { damaged, type Fixture, type FixtureOptions, fixtureRecording, fixtureSet, FixtureView } from "./conformance/fixtures.ts";

/** The conformance cases for one backend; see the module's doc for running them. */
export function storageConformance(target: StorageUnderTest): ConformanceSuite {
  const harness = new Harness(target);
  for (const cases of [saveLoadCases, listingCases, removalCases, robustnessCases, segmentCases, sessionCases, erasureCases]) cases(harness);
  return conformanceSuite(harness);
}
