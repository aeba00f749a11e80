/** `npm run demo` / `deno task demo`: the demo app on 127.0.0.1, recording into ./replay_recordings. */

import { fileStorage, postgresStorage } from "../../mod.ts";
import { createDemoApp } from "./app.tsx";
import { serve } from "./serve.ts";

const port = Number(globalThis.process?.env?.PORT ?? 8787);
const env = globalThis.process?.env ?? {};
const path = env.REPLAY_DIR ?? "replay_recordings";
// One option switches the demo to PostgreSQL: several demo processes can then record into one database.
const storage = env.DATABASE_URL ? postgresStorage({ url: env.DATABASE_URL }) : fileStorage({ path });
const { app, replay } = createDemoApp({ storage, journal: env.REPLAY_JOURNAL });
const server = await serve(app.fetch, port);
console.log(`hono-replay demo on http://127.0.0.1:${server.port}/  (recordings in ${env.DATABASE_URL ? "PostgreSQL" : path}, dashboard at /replay)`);

// Ctrl-C (SIGINT) and SIGTERM write what is active to the store, then exit.
replay.closeOnSignals();
