/**
 * The dashboard's routes: a Hono app to mount anywhere,
 *
 *   app.route("/replay", createDashboard(replay, { authorize: (c, recording) => isAdmin(c) }));
 *
 * Pages are rendered on the server; the player fetches frames (rendered here by
 * the replay engine) in batches; active recordings stream over server-sent events.
 *
 * This module only assembles: the settings (settings.ts), the one context
 * object every route works with (context.ts), the security headers
 * (policy.ts), and the route modules (routes/*). Each invariant lives where it
 * is enforced:
 * - nothing is served without `authorize`, assets and the 404 page included
 *   (access.ts, and the middleware below for an unconfigured dashboard);
 * - refused and unknown recordings answer the same (recording_route.tsx);
 * - destructive POSTs are same-origin and carry a server-signed token (csrf.ts);
 * - every response carries the security headers and a policy (policy.ts);
 * - a storage failure is a 503 page, never a stack trace, and recovers by
 *   itself (problems.ts, and the error handler below);
 * - a corrupt recording is shown as such and can be deleted: the index lists
 *   what the store reports unreadable (corrupt_list.tsx), its page says so
 *   (recording_route.tsx), the delete route takes it (routes/actions.tsx);
 * - what goes wrong is logged through the `logger` option (default: the
 *   replay's, `replay.store.logger`), never straight to the console; routes
 *   read and download through the store's API, never its storage;
 * - what is deleted leaves the dashboard's memory at once and browsers' frame
 *   caches on their next dashboard page (recordings.ts, routes/cached.ts).
 */

import { Hono } from "hono";
import { createContext, type DashboardContext } from "./context.ts";
import type { DashboardReplay, Env, RequestContext } from "./env.ts";
import { dashboardPolicy, securityHeaders } from "./policy.ts";
import { StorageUnavailableError } from "./problems.ts";
import { denied, message, notConfigured, storageUnavailable } from "./respond.tsx";
import { actionRoutes } from "./routes/actions.tsx";
import { activeRoutes } from "./routes/active.ts";
import { assetRoutes } from "./routes/assets.ts";
import { cachedRoutes } from "./routes/cached.ts";
import { fidelityRoutes } from "./routes/fidelity.ts";
import { fileRoutes } from "./routes/files.tsx";
import { index, indexRoutes } from "./routes/index.tsx";
import { liveRoutes } from "./routes/live.ts";
import { playerRoutes } from "./routes/player.tsx";
import { type DashboardOptions, resolveSettings } from "./settings.ts";

export type { DashboardOptions } from "./settings.ts";

export function createDashboard(replay: DashboardReplay, options: DashboardOptions = {}): Hono<Env> {
  // The replay's logger unless the dashboard is given its own (a double of the store may have none).
  const settings = resolveSettings(options, replay.store.logger);
  const ctx = createContext(replay, settings);
  const app = new Hono<Env>();
  // First, so that its headers reach every answer, the error handler's included.
  app.use("*", ...securityHeaders(dashboardPolicy(settings.frameSources)));
  app.use("*", async (c, next) => {
    c.set("base", settings.basePath ?? baseOf(c.req.routePath, c.req.path));
    if (!settings.configured) return notConfigured(c);
    // The index answers at "/replay/" as well as "/replay" (a route "/" under a mount point matches only the latter).
    if (c.req.method === "GET" && c.req.path === c.var.base + "/" && c.var.base !== "") return index(ctx, c);
    await next();
  });
  for (const routes of [indexRoutes, activeRoutes, playerRoutes, liveRoutes, fileRoutes, actionRoutes, fidelityRoutes, cachedRoutes, assetRoutes]) {
    routes(app, ctx);
  }
  app.all("*", async (c) => {
    if (!(await ctx.access.allowed(c))) return denied(ctx, c);
    return message(ctx, c, 404, "Not found", `Nothing at ${c.req.path} in the replay dashboard.`);
  });
  app.onError((error, c) => answerError(ctx, c as RequestContext, error));
  return app;
}

/** The storage is down: a plain 503 that says so (details in the server log, once per outage). Anything else: a plain 500. */
function answerError(ctx: DashboardContext, c: RequestContext, error: Error): Response {
  if (c.var.base === undefined) c.set("base", ctx.settings.basePath ?? "");
  if (error instanceof StorageUnavailableError) {
    ctx.problems.storageDown(error);
    return storageUnavailable(ctx, c);
  }
  ctx.settings.logger.error("dashboard: a request failed", error);
  return message(ctx, c, 500, "Something went wrong", "The dashboard failed to answer this request; the server log has the details.");
}

/** The mount point: as many leading segments of the path as the middleware's pattern has before "/*". */
function baseOf(routePath: string, path: string): string {
  const segments = routePath.split("/").filter(Boolean);
  if (segments[segments.length - 1] === "*") segments.pop();
  if (segments.length === 0) return "";
  return "/" + path.split("/").filter(Boolean).slice(0, segments.length).join("/");
}
