/**
 * Who may use the dashboard: the one place `authorize` is called.
 *
 * Invariants, and why:
 * - Only `true` allows. A callback that returns anything else, or throws, or
 *   rejects, refuses: an authorization bug must fail closed (a throw is logged
 *   through the dashboard's logger, 1, 10, 100… times, so the refusal can be
 *   explained without every request adding a line).
 * - Without `authorize` (and without open access) nothing is allowed; the
 *   dashboard's middleware answers every route with a page saying how to
 *   configure it before any route runs.
 * - `recording` undefined asks about the dashboard itself; a summary asks
 *   about that recording. Routes about one recording ask with the recording
 *   and, when refused, ask about the dashboard to answer exactly as for an id
 *   that does not exist (recording_route.tsx).
 */

import type { Context } from "hono";
import type { RecordingSummary } from "../format/mod.ts";
import type { Faults } from "../logger.ts";
import { AUTHORIZE_FAULT } from "./problems.ts";
import type { DashboardSettings } from "./settings.ts";

export class Access {
  constructor(
    private readonly settings: Pick<DashboardSettings, "open" | "authorize">,
    private readonly faults: Faults,
  ) {}

  async allowed(c: Context, recording?: RecordingSummary): Promise<boolean> {
    if (this.settings.open) return true;
    const authorize = this.settings.authorize;
    if (!authorize) return false;
    try {
      return (await authorize(c, recording)) === true;
    } catch (error) {
      this.faults.report(AUTHORIZE_FAULT, error, () => "dashboard: authorize threw, so the request is refused");
      return false;
    }
  }
}
