/**
 * The one object every dashboard route works with: the settings, the replay
 * it shows, who may see it (access.ts), the CSRF guard (csrf.ts), the
 * recordings it reads and remembers (recordings.ts), what went wrong
 * (problems.ts) and its assets' names. Made once per `createDashboard`; the
 * route modules (routes/*) take it and hold no state of their own, so each can
 * be read, and tested, alone.
 */

import { shortHash } from "../format/mod.ts";
import { Access } from "./access.ts";
import { clientJs } from "./client/bundle.gen.ts";
import { Csrf } from "./csrf.ts";
import type { DashboardReplay } from "./env.ts";
import { Problems } from "./problems.ts";
import { Recordings } from "./recordings.ts";
import type { DashboardSettings } from "./settings.ts";
import { dashboardCss } from "./styles.ts";

export interface DashboardContext {
  readonly replay: DashboardReplay;
  readonly settings: DashboardSettings;
  readonly access: Access;
  readonly csrf: Csrf;
  readonly recordings: Recordings;
  readonly problems: Problems;
  readonly assets: AssetNames;
}

/** The client module's and the stylesheet's file names: content-hashed, so browsers may cache them for good. */
export interface AssetNames {
  js: string;
  css: string;
}

export function createContext(replay: DashboardReplay, settings: DashboardSettings): DashboardContext {
  const problems = new Problems(settings.logger);
  return {
    replay,
    settings,
    access: new Access(settings, problems.faults),
    csrf: new Csrf(settings.csrfSecret, settings.origins),
    recordings: new Recordings(replay, problems, settings.cacheVersion),
    problems,
    assets: { js: `client-${shortHash(clientJs)}.js`, css: `dashboard-${shortHash(dashboardCss)}.css` },
  };
}

/** The assets' URLs under the mount point. */
export function assetUrls(ctx: DashboardContext, base: string): { css: string; js: string } {
  return { css: `${base}/assets/${ctx.assets.css}`, js: `${base}/assets/${ctx.assets.js}` };
}
