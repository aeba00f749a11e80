/** `c.var.replay` as methods of one object per request: called as methods or detached, it renders and records the same. */

import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, memoryStorage } from "../mod.ts";

function Counter(props: { n: number }) {
  return h("p", null, `count ${props.n}`);
}

async function recordTwo(handler: "method" | "detached") {
  const replay = createReplay({ views: { Counter }, storage: memoryStorage(), worker: false });
  try {
    const app = new Hono();
    app.use(replay.recorder());
    app.get("/", (c) => {
      const n = Number(c.req.query("n") ?? 0);
      if (handler === "method") return c.var.replay.render(Counter, { n });
      const { render, recorded } = c.var.replay;
      assert.is(recorded, true);
      return render(Counter, { n });
    });
    const first = await app.request("/?n=1");
    assert.is(await first.text(), "<p>count 1</p>");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    const second = await app.request("/?n=2", { headers: { cookie } });
    assert.is(await second.text(), "<p>count 2</p>");
    // end() detached too: the recording is finalized at once.
    const ender = new Hono();
    ender.use(replay.recorder());
    ender.get("/bye", (c) => {
      const { end } = c.var.replay;
      end();
      return c.text("bye");
    });
    await ender.request("/bye", { headers: { cookie } });
    await replay.flush();
    const summaries = await replay.store.listRecordingSummaries();
    assert.is(summaries.length, 1, "one recording of the session");
    const player = replay.player(await replay.store.getRecording(summaries[0].id));
    assert.is(player.fidelity().identical, player.frameCount, "every frame byte-identical");
    return Array.from({ length: player.frameCount }, (_, i) => player.renderFrame(i).html);
  } finally {
    await replay.close();
  }
}

test("render called as a method records the frames (the control for the detached case)", async () => {
  assert.equal(await recordTwo("method"), ["<p>count 1</p>", "<p>count 2</p>"]);
});

test("render and end destructured from c.var.replay work as they did when they were closures", async () => {
  assert.equal(await recordTwo("detached"), await recordTwo("method"));
});

test.run();
