/**
 * The demo app as a server process for the fault and instance tests, recording
 * into PostgreSQL (DATABASE_URL, REPLAY_TABLE), a Deno KV file (REPLAY_KV) or
 * files (REPLAY_DIR), with its crash journal in JOURNAL_DIR (default: the
 * storage's), IDLE_TIMEOUT_MS, BEACON_GRACE_MS, RING_BYTES and OVERFLOW_LIMIT. Prints one line when it listens:
 *
 *   fault server on http://127.0.0.1:<port>/ pid <pid>
 *
 * Test-only routes: POST /__test/crash-worker kills the persistence worker the
 * way a bug would; GET /__test/engine reports the engine, GET /__test/stats its stats; POST /__test/flush
 * writes what the engine holds and answers its stats; POST /__test/erase?session=<key>
 * (or ?demoUser=<id>) erases as an app's admin endpoint would, answering the
 * report. SIGINT or SIGTERM shuts down
 * cleanly (every recording ended and saved); SIGKILL is what the tests use.
 */

import process from "node:process";
import { denoKvStorage, fileStorage, type RecordingStorage } from "../mod.ts";
import { testHooks } from "../internal.ts";
import { postgresStorage } from "../storage/postgres.ts";
import { createDemoApp } from "../examples/demo/app.tsx";
import { serve } from "../examples/demo/serve.ts";

const env = process.env;
const storage: RecordingStorage = env.DATABASE_URL
  ? postgresStorage({ url: env.DATABASE_URL, table: env.REPLAY_TABLE })
  : env.REPLAY_KV
  ? denoKvStorage({ path: env.REPLAY_KV })
  : fileStorage({ path: env.REPLAY_DIR ?? "replay_recordings" });
const { app, replay } = createDemoApp({
  storage,
  journal: env.JOURNAL_DIR,
  beaconGraceMs: Number(env.BEACON_GRACE_MS ?? 5_000),
  ...(env.IDLE_TIMEOUT_MS ? { idleTimeoutMs: Number(env.IDLE_TIMEOUT_MS) } : {}),
  ...(env.RING_BYTES ? { ringBytes: Number(env.RING_BYTES) } : {}),
  ...(env.OVERFLOW_LIMIT ? { overflowLimit: Number(env.OVERFLOW_LIMIT) } : {}),
  persistenceRetryAttempts: 2,
  persistenceRetryDelayMs: 200,
});
app.post("/__test/crash-worker", (c) => {
  testHooks(replay).crashWorker();
  return c.body(null, 204);
});
app.get("/__test/engine", (c) => c.json({ mode: replay.engine.mode, restarts: replay.engine.restarts, dropped: replay.engine.dropped }));
// The engine's stats without flushing (a flush waits for the store).
app.get("/__test/stats", async (c) => c.json(await testHooks(replay).stats()));
app.post("/__test/flush", async (c) => c.json(await replay.flush()));
// One pass of the engine's store sweep and orphan-journal scan, now.
app.post("/__test/maintain", async (c) => c.text((await replay.engine.maintain()) ? "done" : "no engine here"));
// Erasure, as an app's admin endpoint would call it: a session by its key, or a user by the demo's session data.
app.post("/__test/erase", async (c) => {
  const session = c.req.query("session");
  return c.json(session ? await replay.store.eraseSession(session) : await replay.store.eraseWhere({ session: { demoUser: c.req.query("demoUser") ?? "" } }));
});

await replay.ready;
const server = await serve(app.fetch, Number(env.PORT ?? 0));
console.log(`fault server on http://127.0.0.1:${server.port}/ pid ${process.pid}`);

// SIGINT (as Deno Deploy sends) and SIGTERM: close, then exit.
replay.closeOnSignals();
