/**
 * A live stream (server-sent events) whose loop may fail: the failure is
 * reported (problems.ts counts and logs it) and the stream ends; the browser's
 * EventSource reconnects by itself. A browser that leaves is not a failure:
 * the loop sees `stream.aborted` and returns.
 */

import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { DashboardContext } from "../context.ts";
import type { RequestContext } from "../env.ts";

/** @param name What the stream is, for the log: "of recording <id>". */
export function liveStream(ctx: DashboardContext, c: RequestContext, name: string, loop: (stream: SSEStreamingApi) => Promise<void>): Response {
  return streamSSE(c, async (stream) => {
    try {
      await loop(stream);
    } catch (error) {
      ctx.problems.streamFailed(name, error);
    }
  });
}
