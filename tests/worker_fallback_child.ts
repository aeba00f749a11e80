/**
 * A child process for tests/worker_fallback.test.ts: an app recording into
 * fileStorage(STORE) (journal in JOURNAL when set), started with whatever
 * permissions or paths make the persistence worker unable to run. It answers
 * requests before and after the engine is ready, flushes, closes, prints one
 * `RESULT {json}` line and then must end by itself: it never calls
 * process.exit, so a worker or timer left running keeps it alive and fails
 * the test.
 */

import process from "node:process";
import { Hono } from "hono";
import { h } from "preact";
import { createReplay, fileStorage, type ReplayEnv } from "../mod.ts";

function Board(props: { step: number }) {
  return h("main", null, h("h1", null, `step ${props.step}`));
}

const env = process.env;
const replay = createReplay({
  views: { Board },
  storage: fileStorage({ path: env.STORE! }),
  ...(env.JOURNAL ? { journal: env.JOURNAL } : {}),
  // Small retry delays: a storage that cannot be written gives up quickly.
  persistenceRetryAttempts: 2,
  persistenceRetryDelayMs: 20,
});
const app = new Hono<ReplayEnv>();
app.use(replay.recorder());
app.get("/board", (c) => c.var.replay.render(Board, { step: 0 }));
app.post("/board", async (c) => c.var.replay.render(Board, { step: Number((await c.req.parseBody()).step) }));

const statuses: number[] = [];
/** One visitor: a page and `steps` posts, each an event. */
async function visit(steps: number) {
  const first = await app.request("/board");
  statuses.push(first.status);
  const cookie = first.headers.get("set-cookie")?.split(";")[0] ?? "";
  for (let step = 1; step <= steps; step++) {
    const res = await app.request("/board", { method: "POST", headers: { cookie }, body: new URLSearchParams({ step: String(step) }) });
    statuses.push(res.status);
    await res.text();
  }
}

// While the worker is being tried: requests must not wait for it.
await visit(3);
await replay.ready;
await visit(2);
await visit(4);
const flushed = await replay.flush().then((stats) => ({ stats }), (error) => ({ error: String(error) }));
const closing = Date.now();
await replay.close();
const closeMs = Date.now() - closing;
console.log(`RESULT ${JSON.stringify({ mode: replay.engine.mode, statuses, flushed, closeMs })}`);
