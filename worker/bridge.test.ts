/**
 * The journal bridge (the request thread journaling the ring while a dead
 * worker is replaced): it carries on from where the dead worker's journal
 * ends, commits only what it wrote, stops at its bound, and on a full disk (a
 * real tmpfs) leaves the journal as it was and the frames in the ring. It and
 * the engine take the ring over when they attach (ring.ts takeOver).
 */

import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { frame, FrameKind } from "../format/mod.ts";
import { memoryStorage } from "../storage/mod.ts";
import { JournalBridge } from "./bridge.ts";
import { Engine } from "./engine.ts";
import { quietEngineOptions } from "./engine.fixture.ts";
import { Journal } from "./journal.ts";
import { createRingBuffer, RingReader, RingWriter } from "./ring.ts";
import { mountTmpfs, tmpfsUnavailable } from "../tests/support/tmpfs.ts";
import { testUnless } from "../tests/support/skip.ts";

const line = (id: string, i: number) => frame(id, FrameKind.event, i, "validate", JSON.stringify({ email: "x".repeat(80) }));
const lines = (id: string, from: number, count: number) => Array.from({ length: count }, (_, i) => line(id, from + i));

function write(ring: RingWriter, frames: string[]) {
  for (const f of frames) assert.ok(ring.write(f), "the ring takes the frame");
}

test("carries on from where the dead worker's journal ends, commits what it wrote, and writes the rest when stopped", () => {
  const path = join(mkdtempSync(join(tmpdir(), "hr-bridge-")), "x.journal");
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  // The dead worker journaled its last batch and died before committing it in the ring.
  const before = lines("rec", 0, 3);
  write(ring, before);
  const dead = new RingReader(buffer);
  const journal = new Journal(path);
  journal.append(dead.readAvailable(), dead.position);
  journal.close();
  assert.is(ring.info().used > 0, true, "the ring still holds them");

  const warnings: string[] = [];
  const bridge = new JournalBridge(buffer, path, 1 << 20, (m) => warnings.push(m));
  const during = lines("rec", 3, 4);
  write(ring, during);
  bridge.tick();
  assert.is(ring.info().used, 0, "what it journaled is committed");
  assert.equal(Journal.read(path).frames, [...before, ...during], "each frame once, in order");
  const last = lines("rec", 7, 2);
  write(ring, last);
  bridge.stop();
  const back = Journal.read(path);
  assert.equal(back.frames, [...before, ...during, ...last], "stop journals what came in since");
  assert.is(back.position, new RingReader(buffer).position, "the position the replacement skips to");
  assert.is(bridge.frames, 6);
  assert.equal(warnings, []);
});

test("the bridge and an engine clear the wait flag a worker killed mid-wait left set: frames stop signalling once they attach", () => {
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  // White box: header slot 2 is the reader's wait flag (2: idle, set by a wait the dead worker never finished), slot 3 counts signals.
  const header = new Int32Array(buffer, 0, 4);
  const leftIdle = () => Atomics.store(header, 2, 2);
  const attachers = {
    bridge: () => new JournalBridge(buffer, join(mkdtempSync(join(tmpdir(), "hr-bridge-")), "x.journal"), 1e9, () => {}).stop(),
    // Constructed only (not started): attaching is the constructor's.
    engine: () => void new Engine(buffer, memoryStorage(), quietEngineOptions("attach0001"), { warn: () => {}, error: () => {} }),
  };
  for (const [name, attach] of Object.entries(attachers)) {
    leftIdle();
    const before = Atomics.load(header, 3);
    write(ring, [line(name, 0)]);
    assert.is(Atomics.load(header, 3), before + 1, `control (${name}): with the flag left set, a frame signals`);
    leftIdle();
    attach();
    write(ring, lines(name, 1, 5));
    assert.is(Atomics.load(header, 3), before + 1, `${name}: after it attached, no frame signals`);
  }
});

test("past its bound it leaves frames in the ring", () => {
  const path = join(mkdtempSync(join(tmpdir(), "hr-bridge-")), "y.journal");
  const buffer = createRingBuffer(64 * 1024);
  const ring = new RingWriter(buffer);
  const bridge = new JournalBridge(buffer, path, 3 * line("rec", 0).length, () => {});
  write(ring, lines("rec", 0, 3));
  bridge.tick();
  write(ring, lines("rec", 3, 2));
  bridge.tick();
  assert.match(bridge.halted ?? "", "bound");
  assert.equal(Journal.read(path).frames, lines("rec", 0, 3));
  assert.equal(new RingReader(buffer).readAvailable(), lines("rec", 3, 2), "the rest waits in the ring for the replacement");
  bridge.stop();
});

const diskTest = testUnless(tmpfsUnavailable(), "the bridge's full-disk test (it mounts a tmpfs)");

diskTest("a full disk: the journal is left as it was (no torn batch, nothing emptied) and the frames stay in the ring", () => {
  const disk = mountTmpfs("64k");
  const path = join(disk.dir, "z.journal");
  const buffer = createRingBuffer(256 * 1024);
  const ring = new RingWriter(buffer);
  const warnings: string[] = [];
  try {
    // What the dead worker left: frames only the journal holds now.
    const journal = new Journal(path);
    journal.append(lines("rec", 0, 5), 0);
    journal.close();
    const left = readFileSync(path, "utf8");
    const bridge = new JournalBridge(buffer, path, 1 << 20, (m) => warnings.push(m));
    assert.is(disk.fill(), "ENOSPC", "the disk is full");
    // More than the page the journal's last write left room in.
    const batch = lines("rec", 5, 100);
    write(ring, batch);
    bridge.tick();
    assert.match(bridge.halted ?? "", "ENOSPC");
    assert.match(warnings[0], /cannot be written \(ENOSPC.*while the persistence worker is replaced/);
    assert.is(readFileSync(path, "utf8"), left, "the journal is exactly what the dead worker left");
    assert.equal(new RingReader(buffer).readAvailable(), batch, "the frames wait in the ring");
    write(ring, lines("rec", 105, 1));
    bridge.stop();
    assert.is(statSync(path).size, left.length, "and it reads no more");
  } finally {
    disk.unmount();
  }
});

test.run();
