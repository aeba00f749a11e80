/**
 * Tests that need something this machine may lack (PostgreSQL, Chromium, a
 * server the test may stop) are registered as skipped when it is missing, never
 * as a test that returns early and passes. uvu counts them ("Skipped: N"),
 * tests/run.mjs adds them up, and with REQUIRE_ALL_TESTS=1 (what .ci/run sets)
 * any skipped test fails the run: CI cannot go green without running them.
 *
 *   const pgTest = testUnless(postgresUnavailable(), "PostgreSQL tests");
 *   pgTest("a restart loses nothing", async () => { … });
 *
 * The decision is synchronous, at registration: uvu cannot skip a test that
 * has started.
 */

import { test } from "uvu";

type Register = (name: string, handler: () => void | Promise<void>) => void;

/** `test`, or, when `reason` says why it cannot run, `test.skip` (after printing the reason once). */
export function testUnless(reason: string | undefined, what: string): Register {
  if (!reason) return test;
  console.log(`skipped ${what}: ${reason}`);
  return (name) => test.skip(name);
}
