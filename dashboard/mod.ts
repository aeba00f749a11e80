/**
 * The replay dashboard: browse, filter and replay recordings in the browser.
 *
 * ```ts
 * app.route("/replay", createDashboard(replay, { authorize: (c, recording) => isAdmin(c) }));
 * ```
 * @module
 */
export { createDashboard } from "./server.tsx";
export type { DashboardOptions } from "./settings.ts";
