/**
 * The journal: what a replacement worker (or the next process) reads back,
 * compaction that keeps it small without rewriting it on every batch, and a
 * full disk (a real tmpfs): writes that fail never throw, and the journal is
 * rewritten from what the engine holds once it can be.
 */

import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { frame, FrameKind } from "../format/mod.ts";
import { COMPACTING, Journal } from "./journal.ts";
import { mountTmpfs, tmpfsUnavailable } from "../tests/support/tmpfs.ts";
import { testUnless } from "../tests/support/skip.ts";

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

const diskTest = testUnless(tmpfsUnavailable(), "the full-disk journal tests (they mount a tmpfs)");

diskTest("a full disk: the failed append does not throw; the rewrite frees what the done frames took, and appends resume", () => {
  const disk = mountTmpfs("64k");
  const warnings: string[] = [];
  const journal = new Journal(join(disk.dir, "j.journal"), 1000, 16 * 1024 * 1024, { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) });
  try {
    // 40 KiB of a recording that reached the store, then one that has not.
    for (let i = 0; i < 100; i++) journal.append([line("stored", i)], i);
    journal.markDone("stored");
    const active = [line("open", 1), line("open", 2)];
    journal.append(active, 101);
    assert.is(disk.fill(), "ENOSPC", "the disk is full");
    // More than the page the journal's last write left room in.
    const batch = Array.from({ length: 100 }, (_, i) => line("open", 3 + i));
    journal.append(batch, 102);
    assert.match(journal.failure ?? "", "ENOSPC", "the append failed, and says why");
    assert.is(journal.failures, 1);
    assert.match(warnings[0], /cannot be written \(ENOSPC.*free space in/);
    assert.is(statSync(journal.path).size, 0, "a journal that fell behind claims nothing (emptied)");

    // The engine holds the open recording's frames, those that failed included.
    const held = [...active, ...batch];
    journal.compactIfLarge(() => held, 102, true);
    assert.is(journal.failure, undefined, "the space the journal itself took is enough to write what is held");
    assert.match(warnings[1], "is written again");
    assert.equal(Journal.read(journal.path).frames, held);
    journal.append([line("open", 200)], 103);
    assert.equal(Journal.read(journal.path).frames, [...held, line("open", 200)], "appends resume");
    assert.not.ok(existsSync(journal.path + COMPACTING));
  } finally {
    journal.close();
    disk.unmount();
  }
});

diskTest("a full disk that cannot hold even what is held: the journal stays empty, leaves no temporary file, and retries", () => {
  const disk = mountTmpfs("64k");
  const journal = new Journal(join(disk.dir, "j.journal"), 1000, 16 * 1024 * 1024, { warn: () => {}, error: () => {} });
  try {
    journal.append([line("open", 1)], 1);
    assert.is(disk.fill(), "ENOSPC");
    journal.append(Array.from({ length: 100 }, (_, i) => line("open", 2 + i)), 2);
    assert.match(journal.failure ?? "", "ENOSPC");
    const held = Array.from({ length: 300 }, (_, i) => line("open", i)); // ~36 KB: more than the full disk has, less than the empty one
    journal.compactIfLarge(() => held, 2, true);
    assert.match(journal.failure ?? "", "ENOSPC", "still failing");
    assert.is(journal.failures, 2, "each failed rewrite is counted");
    assert.is(statSync(journal.path).size, 0);
    assert.equal(Journal.read(journal.path).frames, [], "after a crash now, nothing comes back that may be stored since");
    assert.not.ok(existsSync(journal.path + COMPACTING), "the aside copy that did not fit is removed");
    journal.compactIfLarge(() => held, 2);
    assert.is(journal.failures, 2, "not retried before its backoff");
    disk.free();
    journal.compactIfLarge(() => held, 2, true);
    assert.is(journal.failure, undefined, "once there is space, it is written again");
    assert.equal(Journal.read(journal.path).frames, held);
  } finally {
    journal.close();
    disk.unmount();
  }
});

test.run();
