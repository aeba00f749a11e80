/**
 * The types every dashboard module shares, in a leaf module so that none of
 * them imports another for a type.
 */

import type { Context } from "hono";
import type { Replay } from "../mod.ts";

/** Hono's environment of the dashboard's routes: `base` is where it is mounted ("" at the root, never a trailing slash). */
export type Env = { Variables: { base: string } };

/** A request to the dashboard. */
export type RequestContext = Context<Env>;

/**
 * The part of a `Replay` the dashboard uses: its store, its views and
 * players, and the engine's counters for the index's stats line. Narrow, so a
 * test can hand the dashboard a double and the dashboard cannot reach further.
 */
export type DashboardReplay = Pick<Replay, "store" | "views" | "player" | "engine">;
