/**
 * Test fixture (not a test): a worker that drains a ring the main thread writes,
 * as the persistence worker does, and reports what it saw. Started by
 * `ring.test.ts` through `spawnWorker`, so it runs as a real worker thread on
 * Node and a real Web Worker on Deno.
 *
 * It reads until a frame "END", commits after every batch, and answers with the
 * number of frames, an FNV-1a hash over all of them (in order) and the first
 * frame whose "<index>|" prefix was not the next index. Told `idle`, it only
 * starts an idle wait and answers "waiting". Import only its types:
 * loading it outside a worker throws.
 */

import { chainHash } from "./frame_hash.fixture.ts";
import { RingReader } from "./ring.ts";
import { parentPort } from "./runtime.ts";

export interface DrainReport {
  count: number;
  hash: number;
  firstOutOfOrder: number;
  batches: number;
}


const port = await parentPort();
port.onMessage(async (message) => {
  const { buffer, idle } = message as { buffer: SharedArrayBuffer; idle?: boolean };
  const reader = new RingReader(buffer);
  if (idle) {
    // Waits for the first frame, and says so: the test terminates it mid-wait.
    void reader.wait(60_000, "idle");
    port.postMessage("waiting");
    return;
  }
  const report: DrainReport = { count: 0, hash: 0x811c9dc5, firstOutOfOrder: -1, batches: 0 };
  for (;;) {
    const frames = reader.readAvailable();
    if (frames.length === 0) {
      await reader.wait(100);
      continue;
    }
    report.batches++;
    let ended = false;
    for (const f of frames) {
      if (f === "END") {
        ended = true;
        break;
      }
      if (report.firstOutOfOrder < 0 && !f.startsWith(report.count + "|")) report.firstOutOfOrder = report.count;
      report.hash = chainHash(report.hash, f);
      report.count++;
    }
    reader.commit();
    if (ended) break;
  }
  port.postMessage(report);
});
