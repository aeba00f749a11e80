/** memoryStorage passes the conformance suite. */

import { memoryStorage } from "./mod.ts";
import { storageConformance } from "./conformance.ts";

storageConformance({
  name: "memory",
  open: () => memoryStorage(),
}).run();
