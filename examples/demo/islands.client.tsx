/** The demo's browser entry for islands: bundled by islands/build.ts into islands.bundle.gen.ts. */

import { hydrateIslands } from "../../islands/client.ts";
import { PasswordIsland, TodoHintIsland } from "./islands.tsx";

hydrateIslands([PasswordIsland, TodoHintIsland]);
