/**
 * fileStorage passes the conformance suite, with a second fileStorage on the
 * same directory as the other writer; corruption is real damage to the file.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStorage } from "./mod.ts";
import { damaged, storageConformance } from "./conformance.ts";
import { runWithUvu } from "../tests/support/conformance_uvu.ts";

const dir = mkdtempSync(join(tmpdir(), "hono-replay-file-conformance-"));

runWithUvu(storageConformance({
  name: "file",
  open: () => fileStorage({ path: dir }),
  openAnother: () => fileStorage({ path: dir }),
  async corrupt(_storage, id) {
    const file = join(dir, "recordings", `${id}.hrp`);
    writeFileSync(file, damaged(readFileSync(file)));
  },
  teardown: () => rmSync(dir, { recursive: true, force: true }),
}));
