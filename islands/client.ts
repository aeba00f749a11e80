/**
 * Islands: the part that runs in the app's views (server render, replay render)
 * and in the browser (hydration). Opt-in and small: only a component wrapped
 * with `island(name, Component)` is hydrated, and only state declared with
 * `useRecordedState(key, initial)` is ever sent.
 *
 *   const Strength = island("password-field", PasswordField);   // shared module
 *   <Strength />                                               // in a view
 *   hydrateIslands([Strength]);                                // browser entry
 *   const [shown, setShown] = useRecordedState("shown", false);  // in the island
 *
 * Invariants, and why:
 * - Never blocks the island: a change is queued in memory and sent at most every
 *   BATCH_MS with `fetch(keepalive)`, and on pagehide/hidden with `sendBeacon`.
 *   Failures are counted in `islandStats`, never thrown into the component.
 * - Each entry is `[island, t, state, hash, load?]`: `t` is the browser's own
 *   clock (performance.now()), and the batch carries that clock's `now`, so the
 *   server places each change by its age, on the recording's time base, without
 *   trusting the browser's wall clock. `hash` is shortHash (format/ids.ts, the
 *   server's) of the island's canonical content (canonical.ts) right after the
 *   change was committed; replay compares it.
 * - A page load resets an island, and replay must know when: its first change
 *   is preceded by a `load` entry with its whole state at hydration (placed at
 *   hydration time). An island nobody touches sends nothing at all. (Replay
 *   also resets islands at each server-rendered page load, mount or params.)
 * - Replay renders read the recorded state through a module-level slot that
 *   the Player sets around its synchronous render (`withIslandStates`); the
 *   browser and a live server render never set it, so they get `initial`.
 * - Nothing here touches Node or Deno; the DOM only inside functions the
 *   browser calls.
 */

import { type ComponentType, createContext, type FunctionComponent, h, hydrate } from "preact";
import { type Dispatch, type StateUpdater, useContext, useLayoutEffect, useState } from "preact/hooks";
import { shortHash } from "../format/ids.ts";
import { canonicalDom } from "./canonical.ts";

/** Where the browser posts island changes; the server side is `replay.islands()` (islands/recorder.ts). */
export const ISLAND_PATH = "/__replay/island";
/** At most one post per this many milliseconds, per page. */
export const BATCH_MS = 250;
/** Past this many queued entries, changes of an island merge into its last queued entry. */
const MAX_QUEUED = 32;
export const ISLAND_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Recorded state by island name, then key. */
export type IslandStateMap = Record<string, Record<string, unknown>>;

interface Scope {
  name: string;
  /** The wrapper element, in the browser only. */
  el?: Element;
  /** Set once hydration's effects ran: later effects are changes. */
  live?: boolean;
  /** The state at hydration, waiting for the first change (an untouched island sends nothing). */
  load?: Entry;
}

const ScopeContext = createContext<Scope | undefined>(undefined);

let replaying: IslandStateMap | undefined;

/** Renders with islands showing `states` (replay). Synchronous renders only; restores the previous slot. */
export function withIslandStates<T>(states: IslandStateMap | undefined, render: () => T): T {
  const previous = replaying;
  replaying = states;
  try {
    return render();
  } finally {
    replaying = previous;
  }
}

export interface IslandComponent<P> extends FunctionComponent<P> {
  readonly islandName: string;
  readonly component: ComponentType<P>;
}

/**
 * Wraps `component` as the island `name` (unique on a page): the server renders
 * it inside `<div data-island=name data-props=JSON>`, `hydrateIslands` brings it
 * to life in the browser. Props must be JSON data.
 */
export function island<P extends object>(name: string, component: ComponentType<P>): IslandComponent<P> {
  if (!ISLAND_NAME.test(name)) throw new TypeError(`island(${JSON.stringify(name)}): use 1-64 letters, digits, "_", "." or "-"`);
  const wrapper = ((props: P) =>
    h("div", { "data-island": name, "data-props": JSON.stringify(props) }, h(ScopeContext.Provider, { value: { name } }, h(component as ComponentType<object>, props)))) as IslandComponent<P>;
  return Object.assign(wrapper, { islandName: name, component });
}

/**
 * `useState` whose value is recorded: each change (and the value at hydration)
 * is sent, with a hash of the island's content, to the recorder. Outside an
 * `island()` it is plain `useState`. The value must be JSON data; keys are
 * sanitized like assigns (a key that says "password" is dropped).
 */
export function useRecordedState<T>(key: string, initial: T | (() => T)): [T, Dispatch<StateUpdater<T>>] {
  const scope = useContext(ScopeContext);
  const recorded = scope && replaying?.[scope.name];
  const [value, set] = useState<T>(recorded && key in recorded ? (recorded[key] as T) : initial);
  useLayoutEffect(() => {
    if (scope?.el) queueChange(scope, key, value);
  }, [value]);
  return [value, set];
}

/** What the client did, for debugging and tests: nothing is ever thrown at the island. */
export const islandStats = { queued: 0, posts: 0, failed: 0, refused: 0, dropped: 0 };

type Entry = [island: string, t: number, state: Record<string, unknown>, hash: string, load?: 1];

let queue: Entry[] = [];
/** The entry this commit's effects add to: several keys changed in one render make one entry. */
let open: Entry | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let path = ISLAND_PATH;

function queueChange(scope: Scope, key: string, value: unknown) {
  const hash = shortHash(canonicalDom(scope.el!));
  if (!scope.live) {
    // Hydration: the island's state as the page loaded it, sent only along with its first change.
    const load: Entry = (scope.load ??= [scope.name, Math.round(performance.now()), {}, hash, 1]);
    load[2][key] = value;
    load[3] = hash;
    queueMicrotask(() => void (scope.live = true));
    return;
  }
  islandStats.queued++;
  if (scope.load) queue.push(scope.load);
  scope.load = undefined;
  let entry = open && open[0] === scope.name ? open : undefined;
  if (!entry && queue.length >= MAX_QUEUED) {
    for (let i = queue.length - 1; i >= 0 && !entry; i--) if (queue[i][0] === scope.name && !queue[i][4]) entry = queue[i];
  }
  if (entry) {
    entry[1] = Math.round(performance.now());
    entry[2][key] = value;
    entry[3] = hash;
  } else {
    queue.push((entry = [scope.name, Math.round(performance.now()), { [key]: value }, hash]));
  }
  open = entry;
  queueMicrotask(() => void (open = undefined));
  timer ??= setTimeout(() => send(false), BATCH_MS);
}

function send(beacon: boolean) {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (!queue.length) return;
  const entries = queue;
  queue = [];
  let body: string;
  try {
    body = JSON.stringify({ p: location.pathname, n: Math.round(performance.now()), e: entries });
  } catch (error) {
    islandStats.dropped += entries.length;
    console.warn("hono-replay islands: recorded state must be JSON data; dropped", error);
    return;
  }
  islandStats.posts++;
  if (beacon && navigator.sendBeacon) {
    if (!navigator.sendBeacon(path, body)) islandStats.dropped += entries.length;
    return;
  }
  fetch(path, { method: "POST", body, keepalive: true, credentials: "same-origin" }).then(
    (res) => void (res.ok || islandStats.refused++),
    () => void islandStats.failed++,
  );
}

/**
 * Hydrates every `[data-island]` element whose name is one of `islands`, and
 * sends what is queued when the page goes away. Call once, in the browser.
 */
// deno-lint-ignore no-explicit-any
export function hydrateIslands(islands: IslandComponent<any>[], options: { path?: string } = {}): void {
  path = options.path ?? ISLAND_PATH;
  const byName = new Map(islands.map((i) => [i.islandName, i.component as ComponentType<object>]));
  for (const el of Array.from(document.querySelectorAll("[data-island]"))) {
    const component = byName.get(el.getAttribute("data-island")!);
    if (!component) continue;
    const scope: Scope = { name: el.getAttribute("data-island")!, el };
    hydrate(h(ScopeContext.Provider, { value: scope }, h(component, JSON.parse(el.getAttribute("data-props") || "{}"))), el);
  }
  addEventListener("pagehide", () => send(true));
  addEventListener("visibilitychange", () => document.visibilityState === "hidden" && send(true));
}
