/** memoryStorage passes the conformance suite. */

import { memoryStorage } from "./mod.ts";
import { storageConformance } from "./conformance.ts";
import { runWithUvu } from "../tests/support/conformance_uvu.ts";

runWithUvu(storageConformance({
  name: "memory",
  open: () => memoryStorage(),
}));
