/** Visits to the demo app through `app.request()`, for tests that need real recordings quickly. */

import type { Replay } from "../../mod.ts";
import type { RecordingSummary } from "../../format/mod.ts";
import { waitFor } from "./wait.ts";

type Fetcher = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** A sign-up page, one validation (an interaction: the recording is kept), then the tab is closed. */
export async function recordSignup(demo: Fetcher, name: string): Promise<void> {
  const first = await demo.request("http://127.0.0.1/signup");
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  await demo.request("http://127.0.0.1/signup/validate", {
    method: "POST",
    body: new URLSearchParams({ name, email: "" }),
    headers: { cookie, "x-replay-event": "validate", "content-type": "application/x-www-form-urlencoded" },
  });
  await demo.request("http://127.0.0.1/__replay/leave", { method: "POST", headers: { cookie } });
}

/** Waits (polling, no timing assertion) until the store lists at least `n` finalized recordings, and returns them. */
export function finalized(replay: Replay, n: number, timeoutMs = 20_000): Promise<RecordingSummary[]> {
  return waitFor(async () => {
    await replay.flush();
    const list = await replay.store.listRecordingSummaries();
    return list.length >= n && list;
  }, `${n} finalized recordings`, timeoutMs);
}
