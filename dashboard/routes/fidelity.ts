/**
 * `GET /fidelity?ids=a,b,…` (at most 50): whether every frame of each
 * finalized recording re-renders byte-identical to the HTML that was served.
 * The index's client asks for the rows it shows without a result; results of
 * finalized recordings never change and are remembered (recordings.ts).
 * Recordings `authorize` refuses are left out of the answer, as unknown ones.
 */

import type { Hono } from "hono";
import { CorruptRecordingError } from "../../format/mod.ts";
import type { DashboardContext } from "../context.ts";
import type { Env } from "../env.ts";
import { idsOf } from "../filter.ts";
import { corruptCell, type Loaded, summaryOf } from "../recordings.ts";
import type { FidelityCell } from "../shared.ts";

export function fidelityRoutes(app: Hono<Env>, ctx: DashboardContext): void {
  app.get("/fidelity", async (c) => {
    if (!(await ctx.access.allowed(c))) return c.json({ error: "not allowed" }, 403);
    const ids = idsOf(c.req.query("ids"));
    if (typeof ids === "string") return c.json({ error: ids }, 400);
    const out: Record<string, FidelityCell> = {};
    for (const id of ids) {
      let loaded: Loaded | undefined;
      try {
        loaded = await ctx.recordings.load(id);
      } catch (error) {
        if (!(error instanceof CorruptRecordingError)) throw error;
        out[id] = corruptCell(error.message);
        continue;
      }
      if (!loaded || !(await ctx.access.allowed(c, summaryOf(loaded.recording)))) continue;
      out[id] = fidelityOf(ctx, loaded);
    }
    return c.json(out);
  });
}

function fidelityOf(ctx: DashboardContext, loaded: Loaded): FidelityCell {
  const known = ctx.recordings.fidelity.get(loaded.recording.id);
  if (known) return known;
  const cell = check(loaded);
  if (!loaded.active) ctx.recordings.fidelity.set(loaded.recording.id, cell);
  return cell;
}

function check(loaded: Loaded): FidelityCell {
  if (!loaded.player) return { label: "view not registered", tone: "unknown", title: `view ${loaded.recording.view} is not in createReplay({ views })` };
  const report = loaded.player.fidelity();
  if (report.unknown === report.frames) {
    return { label: "not checked", tone: "unknown", title: "recorded without HTML hashes (fidelity: false)" };
  }
  if (report.differing.length === 0) {
    return { label: `✓ all ${report.identical} identical`, tone: "ok", title: "every frame re-renders byte-identical to the HTML that was served" };
  }
  const listed = report.differing.slice(0, 20).map((i) => i + 1).join(", ");
  return {
    label: `✗ ${report.differing.length} of ${report.frames} differ`,
    tone: "bad",
    title: `frames ${listed}${report.differing.length > 20 ? "…" : ""} re-render differently: does the view read the clock or a global?`,
  };
}
