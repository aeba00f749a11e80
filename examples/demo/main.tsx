/** `npm run demo` / `deno task demo`: the demo app on 127.0.0.1, recording into ./replay_recordings. */

import { fileStorage } from "../../mod.ts";
import { createDemoApp } from "./app.tsx";
import { serve } from "./serve.ts";

const port = Number(globalThis.process?.env?.PORT ?? 8787);
const path = globalThis.process?.env?.REPLAY_DIR ?? "replay_recordings";
const { app, replay } = createDemoApp({ storage: fileStorage({ path }) });
const server = await serve(app.fetch, port);
console.log(`hono-replay demo on http://127.0.0.1:${server.port}/  (recordings in ${path}, dashboard at /replay)`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("saving active recordings…");
  await replay.close();
  await server.close();
  globalThis.process.exit(0);
};
globalThis.process.on("SIGINT", stop);
globalThis.process.on("SIGTERM", stop);
