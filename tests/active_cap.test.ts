/**
 * `maxActiveRecordings`: a flood of cookieless visitors (each a new session)
 * must not grow the recorder's in-memory sessions without bound. Past the cap
 * new sessions are served normally but not recorded, and counted in
 * `replay.engine.capped`; sessions already recorded carry on.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { Hono } from "hono";
import { h } from "preact";
import { createReplay, memoryStorage, type ReplayEnv } from "../mod.ts";

function Page(props: { n: number }) {
  return h("p", null, String(props.n));
}

test("past maxActiveRecordings new sessions are served but not recorded, and counted", async () => {
  const replay = createReplay({ views: { Page }, storage: memoryStorage(), worker: false, maxActiveRecordings: 5 });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  let n = 0;
  app.get("/", (c) => c.var.replay.render(Page, { n }));
  app.post("/", (c) => c.var.replay.render(Page, { n: ++n }));
  try {
    const cookies: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await app.request("/");
      assert.is(res.status, 200);
      cookies.push(res.headers.get("set-cookie")!.split(";")[0]);
    }
    assert.is(replay.engine.capped, 15, "the 15 sessions past the cap are counted");
    // The first five carry on; a capped one is still served.
    for (const cookie of [cookies[0], cookies[4], cookies[10]]) {
      assert.is((await app.request("/", { method: "POST", headers: { cookie } })).status, 200);
    }
    await replay.close();
    const summaries = await replay.store.listRecordingSummaries();
    assert.is(summaries.length, 2, "the two recorded sessions that interacted are stored; the capped one is not");
  } finally {
    await replay.close();
  }
});

test.run();
