/**
 * The dashboard's one client module, bundled by build.ts with Preact and
 * idb-keyval into bundle.gen.ts and served by the dashboard itself. It takes
 * over the server-rendered parts that move: the player, the live "active now"
 * table, the fidelity column, and confirmations before deleting; and on every
 * served page it purges the browser's cached frames of recordings the server
 * no longer has (frame_cache.ts).
 */

import { render } from "preact";
import type { ActiveRow, FrameData, PlayerData } from "../shared.ts";
import { ActiveNow } from "./active.tsx";
import { reconcile } from "./frame_cache.ts";
import { RemoteFrames, StaticFrames } from "./frames.ts";
import { PlayerApp } from "./player.tsx";

function json<T>(id: string): T | undefined {
  const el = document.getElementById(id);
  return el?.textContent ? (JSON.parse(el.textContent) as T) : undefined;
}

/** An export carries every frame, gzipped and base64-encoded; the browser unzips it with no library. */
async function embeddedFrames(): Promise<FrameData[]> {
  const text = document.getElementById("frames-gz")?.textContent?.trim() ?? "";
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text()) as FrameData[];
}

async function startPlayer() {
  const data = json<PlayerData>("player-data");
  const root = document.getElementById("player-root");
  if (!data || !root) return;
  const source = data.mode === "export"
    ? new StaticFrames(await embeddedFrames(), data.frames.length)
    : new RemoteFrames(data.endpoints!.frames, data.frames.length, data.batchSize, data.cacheKey, data.initialFrames);
  // For tests and the curious: how many frames came from the network and from IndexedDB.
  (globalThis as { __replaySource?: unknown }).__replaySource = source;
  render(<PlayerApp data={data} source={source} />, root);
  root.dataset.ready = "true";
}

function startActive() {
  const root = document.getElementById("active-root");
  const data = json<{ rows: ActiveRow[]; liveUrl: string; indexUrl: string }>("active-data");
  if (!root || !data) return;
  render(<ActiveNow rows={data.rows} liveUrl={data.liveUrl} indexUrl={data.indexUrl} />, root);
  root.dataset.ready = "true";
}

/** Rows whose fidelity is not known yet: computed by the server on request, a page at a time. */
async function fillFidelity() {
  const cells = Array.from(document.querySelectorAll<HTMLElement>("[data-fidelity-pending]"));
  const url = document.body.dataset.fidelityUrl;
  if (!cells.length || !url) return;
  for (let i = 0; i < cells.length; i += 10) {
    const chunk = cells.slice(i, i + 10);
    const ids = chunk.map((c) => c.dataset.fidelityPending!).join(",");
    try {
      const res = await fetch(`${url}?ids=${encodeURIComponent(ids)}`, { credentials: "same-origin" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const results = (await res.json()) as Record<string, { label: string; tone: string; title: string }>;
      for (const cell of chunk) {
        const r = results[cell.dataset.fidelityPending!];
        if (!r) continue;
        cell.textContent = r.label;
        cell.className = `fidelity ${r.tone}`;
        cell.title = r.title;
        cell.removeAttribute("data-fidelity-pending");
      }
    } catch (error) {
      console.warn("hono-replay dashboard: fidelity unknown:", error);
      for (const cell of chunk) {
        cell.textContent = "?";
        cell.title = `the dashboard did not answer (${(error as Error).message}); reload to try again`;
      }
    }
  }
}

function confirmForms() {
  document.addEventListener("submit", (e) => {
    const form = e.target as HTMLFormElement;
    const message = form.dataset.confirm;
    if (message && !confirm(message)) e.preventDefault();
  });
}

/**
 * Purges cached frames of recordings deleted since (or no longer shown to
 * this user). `data-cache-checked` says when it is done, for tests and the
 * curious: "true", or "failed" (the cache is kept until the next page).
 */
async function purgeDeleted() {
  const url = document.body.dataset.cachedUrl;
  if (!url) return; // an export: no server, nothing cached
  try {
    const purged = await reconcile(url);
    if (purged.length) console.info(`hono-replay dashboard: removed this browser's cached frames of ${purged.length} deleted recording(s)`);
    document.body.dataset.cacheChecked = "true";
  } catch (error) {
    console.warn("hono-replay dashboard: cached frames of deleted recordings could not be checked:", error);
    document.body.dataset.cacheChecked = "failed";
  }
}

confirmForms();
void purgeDeleted();
startActive();
void fillFidelity();
void startPlayer();
