/**
 * The replay side of islands: the recorded state of every island at any event
 * of a recording, and the fidelity check of a replayed island.
 *
 * Invariants, and why:
 * - An island's state at event i is its last `load` entry at or before i (the
 *   page load that hydrated it: a reload starts from what the page rendered)
 *   with the changes after it applied key by key. A mount or params event (a
 *   page the server rendered anew) resets every island to what it rendered,
 *   until the browser's load entry says more: an untouched island sends none.
 * - Folding is checkpointed every CHECKPOINT island events, so any frame costs
 *   at most CHECKPOINT small merges, as the assigns do (replay/reconstruct.ts).
 * - A frame's island content is compared in canonical form (canonical.ts), the
 *   same text the browser hashed, with the same shortHash.
 */

import { type Recording, type ReplayEvent, shortHash } from "../format/mod.ts";
import { canonicalIsland } from "./canonical.ts";
import type { IslandStateMap } from "./client.ts";

export type IslandEvent = Extract<ReplayEvent, { kind: "island" }>;
type Step = IslandEvent | { kind: "reset" };

const CHECKPOINT = 32;

export class IslandStates {
  /** Event indices of the island events, in order. */
  private readonly at: number[] = [];
  private readonly events: Step[] = [];
  private readonly checkpoints: IslandStateMap[] = [];

  constructor(recording: Recording) {
    recording.events.forEach((event, index) => {
      if (event.kind === "island") this.events.push(event);
      else if ((event.kind === "mount" || event.kind === "params") && this.events.length) this.events.push({ kind: "reset" });
      else return;
      this.at.push(index);
    });
    let states: IslandStateMap = {};
    this.events.forEach((event, i) => {
      states = apply(states, event, false);
      if (i % CHECKPOINT === 0) this.checkpoints.push(states);
    });
  }


  /** Every island's recorded state after event `eventIndex`; undefined before the first island event. */
  statesAt(eventIndex: number): IslandStateMap | undefined {
    let lo = 0;
    let hi = this.at.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.at[mid] <= eventIndex) {
        last = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (last < 0) return undefined;
    const base = Math.floor(last / CHECKPOINT);
    let states = copy(this.checkpoints[base]);
    for (let i = base * CHECKPOINT + 1; i <= last; i++) states = apply(states, this.events[i], true);
    return states;
  }
}

function copy(states: IslandStateMap): IslandStateMap {
  const out: IslandStateMap = {};
  for (const name in states) out[name] = { ...states[name] };
  return out;
}

function apply(states: IslandStateMap, event: Step, inPlace: boolean): IslandStateMap {
  if (event.kind === "reset") return {};
  const next = inPlace ? states : copy(states);
  next[event.island] = event.load ? { ...event.state } : { ...next[event.island], ...event.state };
  return next;
}

/**
 * Whether the island in a replayed page is the one the browser hashed:
 * undefined when no hash was recorded, false when the page lacks the island.
 */
export function islandIdentical(pageHtml: string, event: IslandEvent): boolean | undefined {
  if (event.htmlHash === undefined) return undefined;
  const content = canonicalIsland(pageHtml, event.island);
  return content !== undefined && shortHash(content) === event.htmlHash;
}
