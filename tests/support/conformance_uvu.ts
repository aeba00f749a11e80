/** Runs a storage conformance suite (storage/conformance.ts) as a uvu suite, as this repository's test files do. */

import { suite } from "uvu";
import type { ConformanceSuite } from "../../storage/conformance.ts";

export function runWithUvu(conformance: ConformanceSuite): void {
  const test = suite(conformance.name);
  test.before(() => conformance.setup());
  test.before.each(() => conformance.beforeEach());
  test.after(() => conformance.teardown());
  for (const c of conformance.cases) test(c.name, () => c.fn());
  test.run();
}
