/**
 * The journal directory is private to the app, and only journals this app
 * wrote are delivered (#13; worker/private_dir.ts). A journal planted in the
 * directory — world-readable, another user's, a link — is left undelivered
 * and said; the same journal written as the engine writes it (this user's,
 * 0600) is delivered, which shows the planted ones were refused for what they
 * are. The default directory of database storages is a per-user one, 0700,
 * not the shared temp path anyone could create first.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { createReplay, denoKvStorage, memoryStorage, type RecordingStorage } from "../mod.ts";
import { encode, frame, FrameKind, payload } from "../format/mod.ts";
import { defaultJournalDir } from "../options.ts";
import { FixtureView } from "../storage/conformance.ts";
import { ensurePrivateDir, untrustedJournal } from "../worker/private_dir.ts";

const temps: string[] = [];
const tempDir = (prefix = "hono-replay-journal-privacy-") => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
test.after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const mode = (path: string) => statSync(path).mode & 0o7777;

/** A released journal (a clean shutdown while the store was down) holding one recording with a click. */
function journalText(id: string): string {
  const meta = { view: "Counter", url: "http://localhost/counter", sessionKey: "planted", startedAt: Date.now() - 60_000, format: "tagged" };
  return [
    frame(id, FrameKind.start, 0, "", JSON.stringify(meta)),
    frame(id, FrameKind.mount, 0, "", payload.mount(meta.url, "{}", "{}", encode({ label: "planted", count: 0 }))),
    frame(id, FrameKind.event, 100, "click", payload.event(encode({ i: 1 }))),
    frame(id, FrameKind.render, 101, "", payload.render(encode({ count: 1 }), [])),
  ].join("\n") + "\n";
}

/** An in-process replay on `storage` (journal: the option, or the default when undefined), after one maintenance pass. */
async function startOn(journal: string | undefined, storage: RecordingStorage) {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  const replay = createReplay({ views: { Counter: FixtureView }, storage, ...(journal ? { journal } : {}), worker: false });
  try {
    await replay.ready;
    await replay.engine.maintain();
  } finally {
    console.warn = warn;
  }
  return { replay, warnings };
}

test("journals planted in the journal directory are not delivered; the same journal written as the engine writes it is", async () => {
  const dir = tempDir();
  const plant = (name: string, id: string, fileMode: number) => {
    const path = join(dir, name);
    writeFileSync(path, journalText(id), { mode: fileMode });
    chmodSync(path, fileMode);
    return path;
  };
  plant("released-x-1-readable.journal", "0planted-readable", 0o644);
  if (isRoot) chownSync(plant("released-x-2-foreign.journal", "0planted-foreign", 0o600), 65534, 65534);
  const elsewhere = join(tempDir(), "target.journal");
  writeFileSync(elsewhere, journalText("0planted-link"), { mode: 0o600 });
  symlinkSync(elsewhere, join(dir, "released-x-3-link.journal"));
  plant("released-x-4-own.journal", "0written-by-us", 0o600);

  const storage = memoryStorage();
  const { replay, warnings } = await startOn(dir, storage);
  try {
    const delivered = [...new Set((await storage.listSegments()).map((s) => s.recordingId))].sort();
    assert.equal(delivered, ["0written-by-us"], "only the journal this user wrote 0600 is delivered (the positive control)");
    const said = warnings.join("\n");
    assert.match(said, /released-x-1-readable\.journal is not delivered: its mode is 644/);
    if (isRoot) assert.match(said, /released-x-2-foreign\.journal is not delivered: it belongs to user 65534/);
    assert.match(said, /released-x-3-link\.journal is not delivered: it is a symbolic link/);
  } finally {
    await replay.close();
  }
});

test("the journal directory: created 0700, tightened to 0700 when it is ours and open, refused when another user owns it or could replace it", () => {
  const base = tempDir();
  const fresh = join(base, "a", "journal");
  ensurePrivateDir(fresh);
  assert.is(mode(fresh), 0o700, "created owner-only");
  const open = join(base, "open");
  mkdirSync(open, { mode: 0o755 });
  chmodSync(open, 0o777);
  ensurePrivateDir(open);
  assert.is(mode(open), 0o700, "ours and open to others: tightened");

  const shared = join(base, "shared");
  mkdirSync(shared);
  chmodSync(shared, 0o777); // writable by everyone, not sticky: anyone may rename what is in it
  assert.throws(() => ensurePrivateDir(join(shared, "journal")), /journal directory .* is not private: .*shared is writable by every user/);
  const sticky = join(base, "sticky");
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777); // like /tmp: others cannot rename what is ours
  ensurePrivateDir(join(sticky, "journal"));

  const link = join(base, "link");
  symlinkSync(fresh, link);
  assert.throws(() => ensurePrivateDir(link), /is a symbolic link/);
  if (isRoot) {
    const foreign = join(base, "foreign");
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    assert.throws(() => ensurePrivateDir(foreign), /belongs to user 65534/);
  }
  assert.is(untrustedJournal(join(base, "nothing.journal"))?.startsWith("it cannot be examined"), true);
});

test("a database storage's default journal directory is this user's own, 0700, with its own parent 0700", async () => {
  const storage = denoKvStorage({ path: join(tempDir(), "replay.kv") });
  const dir = defaultJournalDir(storage)!;
  temps.push(dir);
  assert.ok(dir.startsWith(join(tmpdir(), `hono-replay-${process.getuid?.() ?? "journal"}`)), dir);
  const { replay } = await startOn(undefined, storage);
  try {
    assert.is(mode(dir), 0o700, "createReplay made it, owner-only");
    assert.is(mode(dirname(dir)), 0o700, "the per-user directory above it");
    if (process.getuid) assert.is(statSync(dirname(dir)).uid, process.getuid());
  } finally {
    await replay.close();
  }
});

test.run();
