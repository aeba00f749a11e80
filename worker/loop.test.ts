/**
 * The drain loop's wake-ups, end to end, behind createReplay: in a real
 * persistence worker (fileStorage) and in the request thread (memoryStorage),
 * its turns counted by the ring's heartbeat, which the loop bumps once a turn
 * (`testHooks(replay).loopTurns`).
 *
 * What is pinned: a quiet instance with a recording active sleeps (a few turns
 * a second, not one per poll), and a loop that sleeps still wakes by itself:
 * a segment due by age goes to the store with no further request. The wait
 * policy itself (`nextWait`, including waking at the due time rather than at
 * its 250 ms bound) is tested with explicit numbers in loop_wait.test.ts. The
 * one window here proves something does not happen (too many turns): a slow
 * machine makes fewer turns, never more; what must happen is waited for.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, fileStorage, memoryStorage, type Replay, type ReplayEnv } from "../mod.ts";
import { testHooks } from "../internal.ts";
import { sleep, waitFor } from "../tests/support/wait.ts";

function Counter(props: { n: number }) {
  return h("p", null, `n = ${props.n}`);
}

function counterApp(replay: Replay) {
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  app.get("/", (c) => c.var.replay.render(Counter, { n: Number(c.req.query("n") ?? 0) }));
  return app;
}

/** The engine in a worker (fileStorage), and in this thread (memoryStorage: it cannot be opened in a worker). */
const ENGINES = [
  { mode: "worker", storage: (dir: string) => fileStorage({ path: dir }) },
  { mode: "in-process", storage: () => memoryStorage() },
] as const;

async function withEngine(engine: (typeof ENGINES)[number], run: (replay: Replay, app: Hono<ReplayEnv>) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-loop-"));
  const replay = createReplay({ views: { Counter }, storage: engine.storage(dir) });
  try {
    await replay.ready;
    assert.is(replay.engine.mode, engine.mode);
    await run(replay, counterApp(replay));
  } finally {
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loop turns during `ms` of wall time without requests: a window, for what must not happen in it. */
async function quietTurns(replay: Replay, ms: number): Promise<number> {
  const from = testHooks(replay).loopTurns();
  await sleep(ms);
  return testHooks(replay).loopTurns() - from;
}

for (const engine of ENGINES) {
  test(`${engine.mode}: a quiet engine with a recording active sleeps, a few loop turns a second, not one per poll`, () =>
    withEngine(engine, async (replay, app) => {
      const hooks = testHooks(replay);
      const first = await app.request("/");
      const cookie = first.headers.get("set-cookie")!.split(";")[0];
      await replay.flush();
      assert.is((await replay.store.listActive()).length, 1, "the recording stays active while the session is quiet");

      // Control: with frames coming, the loop turns at its poll (every 25 ms), so the counter counts turns.
      const from = hooks.loopTurns();
      let n = 0;
      await waitFor(async () => {
        await app.request(`/?n=${++n}`, { headers: { cookie } });
        return hooks.loopTurns() - from >= 10;
      }, "ten loop turns while requests come", 30_000, 5);

      // Quiet: no frames, so it sleeps until one comes or a segment is due (at most 250 ms).
      await replay.flush();
      const quiet = await quietTurns(replay, 1_000);
      assert.ok(quiet <= 8, `a quiet loop turned ${quiet} times in a second (polling every 25 ms: about 40)`);
      const alive = hooks.loopTurns();
      await waitFor(() => hooks.loopTurns() > alive, "the quiet loop to turn at all (its heartbeat)", 10_000);
    }));

  test(`${engine.mode}: while the loop sleeps, a segment due by age still goes to the store`, () =>
    withEngine(engine, async (replay, app) => {
      const hooks = testHooks(replay);
      const startedAt = Date.now();
      const first = await app.request("/");
      // A mount and one interaction: a recording of a mount alone (a bounce) is never stored.
      assert.is((await app.request("/?n=1", { headers: { cookie: first.headers.get("set-cookie")!.split(";")[0] } })).status, 200);
      // Control: three frames are not due at once (segments go by size, 1 Mi characters, or by age, 1 s),
      // unless this machine took that long to get here.
      const segments = (await hooks.stats()).segments;
      if (Date.now() - startedAt < 500) assert.is(segments, 0, "nothing written the moment the frames are there");
      // No further request: only the loop's own wake-up for the due segment can write it.
      await waitFor(async () => (await hooks.stats()).segments >= 1, "the segment due by age", 10_000, 50);
    }));
}

test.run();
