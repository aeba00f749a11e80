/**
 * Benchmark worker (not a test): the receiving end of the "a message per
 * event" baseline. It counts the frames it is sent and answers "sync" with the
 * count, so the sender can wait until every message was received.
 */

import { parentPort } from "../worker/runtime.ts";

const port = await parentPort();
let count = 0;
let chars = 0;
port.onMessage((message) => {
  if (typeof message === "string") {
    count++;
    chars += message.length;
  } else if ((message as { type?: string }).type === "sync") {
    port.postMessage({ type: "synced", count, chars });
  }
});
port.postMessage({ type: "ready" });
