/**
 * The dashboard's HTML answers that are not a page of their own: refusals,
 * errors, "not configured", a corrupt recording. Each says what happened and
 * what to do, and none says more than the caller may know (a refusal never
 * tells whether a recording exists; an error never shows a stack trace).
 */

import type { VNode } from "preact";
import { assetUrls, type DashboardContext } from "./context.ts";
import type { RequestContext } from "./env.ts";
import { MessagePage, page } from "./pages.tsx";

export function htmlPage(c: RequestContext, status: number, body: VNode): Response {
  return c.html(page(body), status as 200);
}

/** A page with a heading, a sentence and the way back to the index. */
export function message(ctx: DashboardContext, c: RequestContext, status: number, heading: string, text: string): Response {
  return htmlPage(
    c,
    status,
    <MessagePage title={heading} base={c.var.base} assets={assetUrls(ctx, c.var.base)}>
      <p>{text}</p>
      <p><a href={`${c.var.base}/`}>Back to the recordings</a></p>
    </MessagePage>,
  );
}

export function denied(ctx: DashboardContext, c: RequestContext): Response {
  return message(ctx, c, 403, "Not allowed", "The dashboard's authorize callback refused this request.");
}

export function crossSite(ctx: DashboardContext, c: RequestContext): Response {
  return message(ctx, c, 403, "Cross-site request refused", "Deleting needs a form from this dashboard (same origin, with its token). Reload the page and try again.");
}

export function storageUnavailable(ctx: DashboardContext, c: RequestContext): Response {
  const res = message(
    ctx,
    c,
    503,
    "Storage unavailable",
    "The recording storage is unavailable right now, so recordings cannot be shown. The dashboard recovers by itself once the storage is back: reload in a moment.",
  );
  res.headers.set("retry-after", "5");
  return res;
}

/** A corrupt recording: the reason, and a form to delete it (the one thing left to do with it). */
export async function corruptPage(ctx: DashboardContext, c: RequestContext, id: string, reason: string): Promise<Response> {
  const base = c.var.base;
  return htmlPage(
    c,
    422,
    <MessagePage title="Corrupt recording" base={base} assets={assetUrls(ctx, base)}>
      <p>{reason}</p>
      <form method="post" action={`${base}/r/${id}/delete`} data-confirm="Delete this corrupt recording? This cannot be undone.">
        <input type="hidden" name="_csrf" value={await ctx.csrf.token(c, base)} />
        <button class="danger" type="submit">Delete it</button>
      </form>
      <p><a href={`${base}/`}>Back to the recordings</a></p>
    </MessagePage>,
  );
}

/** Every route's answer until `authorize` (or open access) is given: how to give it. */
export function notConfigured(c: RequestContext): Response {
  return htmlPage(
    c,
    403,
    <MessagePage title="The replay dashboard is not configured" base={c.var.base}>
      <p>
        Recordings hold what your users saw and typed, so the dashboard refuses to serve anything until you say who may see it. Give an{" "}
        <code>authorize</code> callback; it receives the request context and, for routes about one recording, the recording's summary:
      </p>
      <pre>{`app.route("/replay", replay.dashboard({
  authorize: (c, recording) => isAdmin(c),
}));`}</pre>
      <p>For a development server on your own machine only, allow everyone explicitly:</p>
      <pre>{`app.route("/replay", replay.dashboard({ dangerouslyAllowOpenAccess: true }));`}</pre>
    </MessagePage>,
  );
}
