/**
 * `createReplay({ logger })`: warnings go to the logger given, not to the
 * console, from the request thread (a recording that failed) and from the
 * persistence worker (a journal it refuses to deliver, warned inside the
 * worker thread and posted to the host). Each scenario runs twice: with a
 * capturing logger (it gets the warning, console.warn does not) and, as the
 * positive control, without one (console.warn gets it), so neither test can
 * pass because the warning never happened.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { h } from "preact";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReplay, fileStorage, type Logger, memoryStorage, type ReplayOptions } from "../mod.ts";

function Page(props: { n: number }) {
  return h("main", null, `page ${props.n}`);
}

/** Runs `scenario` with console.warn captured; returns what the logger and the console got. */
async function capture(withLogger: boolean, scenario: (logger: Logger | undefined) => Promise<void>) {
  const logged: string[] = [];
  const consoleWarnings: string[] = [];
  const logger: Logger = { warn: (m) => logged.push(m), error: (m) => logged.push(m) };
  const original = console.warn;
  console.warn = (...args: unknown[]) => void consoleWarnings.push(args.map(String).join(" "));
  try {
    await scenario(withLogger ? logger : undefined);
  } finally {
    console.warn = original;
  }
  return { logged, consoleWarnings };
}

/** A recording that fails (the sanitizer throws) is warned once by the recorder. */
async function failingRecording(logger: Logger | undefined): Promise<void> {
  const sanitizer: ReplayOptions["sanitizer"] = {
    sanitizeAssigns: () => {
      throw new Error("sanitizer exploded");
    },
  };
  const replay = createReplay({ views: { Page }, storage: memoryStorage(), sanitizer, logger });
  try {
    await replay.ready;
    const app = new Hono();
    app.use(replay.recorder());
    app.get("/", (c) => c.var.replay.render(Page, { n: 1 }));
    const response = await app.request("/");
    assert.is(response.status, 200, "the request is served whatever recording does");
    assert.is(replay.engine.recorderErrors, 1, "the failure happened");
  } finally {
    await replay.close();
  }
}

const RECORDER_WARNING = /recording failed and was skipped.*sanitizer exploded/s;

test("a recording that failed is warned to the logger, not the console", async () => {
  const { logged, consoleWarnings } = await capture(true, failingRecording);
  assert.ok(logged.some((m) => RECORDER_WARNING.test(m)), `the logger got it: ${JSON.stringify(logged)}`);
  assert.not.ok(consoleWarnings.some((m) => RECORDER_WARNING.test(m)), "console.warn did not");
});

test("positive control: without a logger the same warning goes to console.warn", async () => {
  const { consoleWarnings } = await capture(false, failingRecording);
  assert.ok(consoleWarnings.some((m) => RECORDER_WARNING.test(m) && m.startsWith("hono-replay: ")), `console.warn got it: ${JSON.stringify(consoleWarnings)}`);
});

/**
 * A journal in the journal directory that this app did not write (mode 644):
 * the engine, in the persistence worker, refuses to deliver it and warns.
 */
async function untrustedJournal(logger: Logger | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "hono-replay-logger-"));
  try {
    const journalDir = join(dir, ".journal");
    mkdirSync(journalDir, { mode: 0o700 });
    writeFileSync(join(journalDir, "x-1-planted.journal"), "", { mode: 0o644 });
    const replay = createReplay({ views: { Page }, storage: fileStorage({ path: dir }), logger });
    try {
      await replay.ready; // the worker's engine scans the journals before it says it is ready
      assert.is(replay.engine.mode, "worker", "the warning is made in the worker thread");
    } finally {
      await replay.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const JOURNAL_WARNING = /x-1-planted\.journal is not delivered: its mode is 644/;

test("a warning made in the persistence worker reaches the logger, not the console", async () => {
  const { logged, consoleWarnings } = await capture(true, untrustedJournal);
  assert.ok(logged.some((m) => JOURNAL_WARNING.test(m)), `the logger got it: ${JSON.stringify(logged)}`);
  assert.not.ok(consoleWarnings.some((m) => JOURNAL_WARNING.test(m)), "console.warn did not");
});

test("positive control: without a logger the worker's warning goes to console.warn", async () => {
  const { consoleWarnings } = await capture(false, untrustedJournal);
  assert.ok(consoleWarnings.some((m) => JOURNAL_WARNING.test(m)), `console.warn got it: ${JSON.stringify(consoleWarnings)}`);
});

test.run();

/** The replay's dashboard and store report through the replay's logger: a dashboard without `authorize` warns. */
async function dashboardWithoutAuthorize(logger: Logger | undefined): Promise<void> {
  const replay = createReplay({ views: { Page }, storage: memoryStorage(), logger });
  try {
    await replay.ready;
    const response = await replay.dashboard().request("/");
    assert.is(response.status, 403, "refused until authorized");
  } finally {
    await replay.close();
  }
}

const DASHBOARD_WARNING = /no `authorize` given/;

test("the dashboard of a replay with a logger warns to that logger, not the console", async () => {
  const { logged, consoleWarnings } = await capture(true, dashboardWithoutAuthorize);
  assert.ok(logged.some((m) => DASHBOARD_WARNING.test(m)), `the logger got it: ${JSON.stringify(logged)}`);
  assert.not.ok(consoleWarnings.some((m) => DASHBOARD_WARNING.test(m)), "console.warn did not");
});

test("positive control: a dashboard of a replay without a logger warns on the console", async () => {
  const { consoleWarnings } = await capture(false, dashboardWithoutAuthorize);
  assert.ok(consoleWarnings.some((m) => DASHBOARD_WARNING.test(m)), `console.warn got it: ${JSON.stringify(consoleWarnings)}`);
});
