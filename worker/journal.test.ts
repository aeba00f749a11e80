/**
 * The journal: what a replacement worker (or the next process) reads back, and
 * compaction that keeps it small without rewriting it on every batch.
 */

import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { frame, FrameKind } from "../format/mod.ts";
import { Journal } from "./journal.ts";

const line = (id: string, i: number) => frame(id, FrameKind.event, i, "validate", JSON.stringify({ email: "x".repeat(80) }));

test("frames of recordings not marked done come back, with the last ring position", () => {
  const path = join(mkdtempSync(join(tmpdir(), "hr-journal-")), "a.journal");
  const journal = new Journal(path);
  journal.append([line("one", 1), line("two", 1)], 100);
  journal.markDone("one");
  journal.append([line("two", 2)], 180);
  journal.close();
  const back = Journal.read(path);
  assert.equal(back.frames, [line("two", 1), line("two", 2)]);
  assert.is(back.position, 180);
});

test("compaction rewrites only the active frames, and not again until the journal doubles", () => {
  const path = join(mkdtempSync(join(tmpdir(), "hr-journal-")), "b.journal");
  const journal = new Journal(path, 1000, 2_000);
  // Active frames alone are larger than the threshold.
  const active = Array.from({ length: 40 }, (_, i) => line("big", i));
  const inode = () => statSync(path).ino;
  journal.append(active, 1);
  const before = inode();
  journal.compactIfLarge(() => active, 1);
  const compacted = inode();
  assert.is.not(compacted, before, "the first pass past the threshold compacts (a new file, renamed in)");
  const compactedSize = statSync(path).size;
  journal.append([line("big", 40)], 2);
  journal.compactIfLarge(() => active, 2);
  assert.is(inode(), compacted, "a one-frame batch does not rewrite the journal again");
  journal.append(active, 3);
  journal.compactIfLarge(() => active, 3);
  assert.is.not(inode(), compacted, "once it has doubled, it compacts again");
  assert.ok(statSync(path).size <= compactedSize + 100);
  journal.close(true);
});

test.run();
