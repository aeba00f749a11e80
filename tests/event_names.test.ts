/**
 * Event names come from the client (the `x-replay-event` header, the `_event`
 * form field), so their size is bounded: each is cut to 200 characters in the
 * recorder, and a recording's summary keeps at most 100 distinct names — a
 * client sending a new 10,000-character name on every request must not grow
 * the summary, the index or the recording without bound.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { Hono } from "hono";
import { h } from "preact";
import { createReplay, memoryStorage, type ReplayEnv } from "../mod.ts";
import { assembleSegments, frame, FrameKind, MAX_EVENT_NAME_CHARS, MAX_EVENT_NAMES } from "../format/mod.ts";

function Echo(props: { n: number }) {
  return h("p", null, String(props.n));
}

test("long and many event names: each cut to 200 characters, at most 100 distinct in the summary", async () => {
  const replay = createReplay({ views: { Echo }, storage: memoryStorage(), worker: false });
  const app = new Hono<ReplayEnv>();
  app.use(replay.recorder());
  let n = 0;
  app.get("/", (c) => c.var.replay.render(Echo, { n }));
  app.post("/", (c) => c.var.replay.render(Echo, { n: ++n }));
  try {
    const first = await app.request("/");
    const cookie = first.headers.get("set-cookie")!.split(";")[0];
    for (let i = 0; i < 150; i++) {
      const name = `e${i}-` + "x".repeat(10_000);
      const byField = i % 2 === 0;
      const res = await app.request("/", {
        method: "POST",
        headers: { cookie, ...(byField ? {} : { "x-replay-event": name }) },
        body: new URLSearchParams(byField ? { _event: name } : {}),
      });
      assert.is(res.status, 200);
    }
    // A name whose 200th character is the first half of a surrogate pair is cut before it.
    await app.request("/", { method: "POST", headers: { cookie }, body: new URLSearchParams({ _event: "y".repeat(199) + "😀tail" }) });
    await replay.close();
    const [summary] = await replay.store.listRecordingSummaries();
    assert.is(summary.eventNames.length, MAX_EVENT_NAMES);
    assert.ok(summary.eventNames.every((name) => name.length <= MAX_EVENT_NAME_CHARS));
    assert.is(summary.eventNames[0], "e0-" + "x".repeat(197), "the first names seen are kept, cut to 200");
    const recording = await replay.store.getRecording(summary.id);
    const names = recording.events.flatMap((e) => (e.kind === "event" ? [e.name] : []));
    assert.is(names.length, 151, "every event is recorded");
    assert.ok(names.every((name) => name.length <= MAX_EVENT_NAME_CHARS), "each name cut to 200 characters");
    assert.is(names.at(-1), "y".repeat(199), "no half surrogate pair");
  } finally {
    await replay.close();
  }
});

test("assembleSegments bounds the names of segments another instance wrote", () => {
  const id = "0abc-names";
  const start = frame(id, FrameKind.start, 0, "", JSON.stringify({ view: "Echo", url: "http://x/", sessionKey: "k", startedAt: 1, format: "json" }), 1);
  const lines = [start, frame(id, FrameKind.mount, 0, "", JSON.stringify({ params: {}, session: {}, assigns: { n: 0 } }), 1)];
  for (let i = 0; i < 300; i++) lines.push(frame(id, FrameKind.event, i + 1, `n${i}` + "z".repeat(500), "{}", i + 2));
  const assembled = assembleSegments(id, [{ key: "other-1", text: lines.join("\n") }]);
  assert.ok(assembled);
  assert.is(assembled!.meta.eventNames.length, MAX_EVENT_NAMES);
  assert.ok(assembled!.meta.eventNames.every((name) => name.length === MAX_EVENT_NAME_CHARS));
});

test.run();
