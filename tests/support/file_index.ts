/**
 * The file storage's index as it is on disk (storage/file_index.ts): index.json
 * with index.log's changes applied, and a way to replace it whole, for tests
 * that read or damage it by hand.
 */

import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RecordingSummary } from "../../mod.ts";

export function readIndexFiles(dir: string): Record<string, RecordingSummary> {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as Record<string, RecordingSummary>;
  const log = join(dir, "index.log");
  if (!existsSync(log)) return index;
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line) continue;
    const [id, summary] = JSON.parse(line) as [string, RecordingSummary | null];
    if (summary) index[id] = summary;
    else delete index[id];
  }
  return index;
}

/** Replaces the index with `index` (no log left to replay over it). */
export function writeIndexFiles(dir: string, index: Record<string, RecordingSummary>): void {
  writeFileSync(join(dir, "index.json"), JSON.stringify(index));
  rmSync(join(dir, "index.log"), { force: true });
}
