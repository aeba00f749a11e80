/**
 * Benchmark worker (not a test): the raw-ring baseline of the drain benchmark.
 * It reads the ring the way the persistence engine's loop does (batches of
 * 20,000 frames, commit, yield to the event loop, Atomics wait when empty) but
 * does nothing with the frames except count them. On the frame "END" it posts
 * the count since the previous END.
 */

import { RingReader } from "../worker/ring.ts";
import { parentPort, yieldToEventLoop } from "../worker/runtime.ts";

const port = await parentPort();
port.onMessage(async (message) => {
  const { buffer } = message as { buffer: SharedArrayBuffer };
  const reader = new RingReader(buffer);
  let count = 0;
  port.postMessage({ type: "ready" });
  for (;;) {
    const frames = reader.readAvailable(20_000);
    if (frames.length === 0) {
      await reader.wait(50);
      continue;
    }
    reader.commit();
    for (const f of frames) {
      if (f === "END") {
        port.postMessage({ type: "end", count });
        count = 0;
      } else count++;
    }
    await yieldToEventLoop();
  }
});
