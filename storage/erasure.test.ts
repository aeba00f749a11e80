/**
 * eraseEverywhere over memoryStorage, by session data: a recording whose mount
 * matches is erased (the positive control), and one that cannot be read to
 * match is kept and reported through the given logger, not the console.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { damaged, fixtureRecording } from "./conformance.ts";
import { eraseEverywhere } from "./erasure.ts";
import { memoryStorage } from "./memory.ts";

test("a recording that cannot be read to match session data is kept, and said to the logger", async () => {
  const storage = memoryStorage();
  const t0 = Date.UTC(2026, 0, 8);
  // The fixtures' mount stores the session data { user: null }.
  const good = fixtureRecording({ id: "0er-good", startedAt: t0, sessionKey: "k-good" });
  const bad = fixtureRecording({ id: "0er-bad", startedAt: t0 + 1, sessionKey: "k-bad" });
  await storage.save(good.summary, good.bytes);
  await storage.save(bad.summary, damaged(bad.bytes));
  const warnings: string[] = [];
  const logger = { warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
  const consoleWarn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(`console: ${args.join(" ")}`);
  let erased;
  try {
    const mark = { id: "0er-mark", at: t0 + 10, until: Date.now() + 3_600_000, session: { user: null } };
    erased = await eraseEverywhere(storage, mark, async () => ({ recordings: [], sessions: [] }), undefined, logger);
  } finally {
    console.warn = consoleWarn;
  }
  assert.equal(erased.recordings, ["0er-good"], "the readable recording whose session data matches is erased");
  assert.equal(erased.sessions, ["k-good"]);
  assert.equal((await storage.list()).items.map((s) => s.id), ["0er-bad"], "the unreadable one is kept");
  assert.is(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /^erasure could not read recording 0er-bad to match its session data/);
});

test.run();
