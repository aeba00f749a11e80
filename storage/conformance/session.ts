/**
 * Conformance case: the storage behind createReplay. A session recorded
 * through the recorder (on the second handle) is stored, listed and replayed
 * byte-identical to what was served.
 */

import { Hono } from "hono";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createReplay } from "../../mod.ts";
import type { ReplayEnv } from "../../recorder/mod.ts";
import { FixtureView } from "./fixtures.ts";
import { assert, borrowed, type Harness } from "./harness.ts";

export function sessionCases(h: Harness): void {
  const { test } = h;
  test("a session recorded through createReplay is stored, listed and replayed", () => sessionThroughCreateReplay(h));
}

async function sessionThroughCreateReplay(h: Harness): Promise<void> {
  const { storage, other } = h;
  const journal = mkdtempSync(join(tmpdir(), "hono-replay-conformance-"));
  const replay = createReplay({ views: { Counter: FixtureView }, storage: borrowed(other), journal });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  const counts = new Map<string, number>();
  app.get("/counter", (c) => c.var.replay.render(FixtureView, { label: "count", count: counts.get(c.req.query("who") ?? "") ?? 0 }));
  app.post("/counter", async (c) => {
    const who = c.req.query("who") ?? "";
    counts.set(who, (counts.get(who) ?? 0) + Number((await c.req.parseBody()).by ?? 1));
    return c.var.replay.render(FixtureView, { label: "count", count: counts.get(who)! });
  });
  try {
    const first = await app.request("/counter?who=ada");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    for (const by of ["1", "2", "3"]) {
      await app.request("/counter?who=ada", { method: "POST", headers: { cookie, "x-replay-event": "bump" }, body: new URLSearchParams({ by }) });
    }
  } finally {
    await replay.close();
    rmSync(journal, { recursive: true, force: true });
  }
  const [summary] = (await storage.list({ view: "Counter" })).items;
  assert.ok(summary, "the recording is in the storage");
  assert.is(summary.eventCount, 7);
  assert.equal(summary.eventNames, ["bump"]);
  const player = replay.player(await replay.store.getRecording(summary.id));
  assert.equal([0, 1, 2, 3].map((i) => player.renderFrame(i).html), ["<p>count 0</p>", "<p>count 1</p>", "<p>count 3</p>", "<p>count 6</p>"]);
  assert.is(player.fidelity().identical, 4, "every frame byte-identical to what was served");
}
