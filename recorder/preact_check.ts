/**
 * A start-up check that hono-replay and preact-render-to-string use one and the same preact.
 *
 * With two copies installed (say the app's preact 11 at the top of node_modules and another
 * copy nested under hono-replay or preact-render-to-string), an element made by one copy's
 * `h` renders as "" through a preact-render-to-string bound to the other: every page and every
 * replayed frame would be an empty body, and nothing would fail. So createReplay renders one
 * probe element, made with the `h` and rendered with the `renderToString` the recorder and the
 * player use, and refuses to start when it comes out empty.
 *
 * Invariant: this module imports preact and preact-render-to-string by the same bare
 * specifiers as recorder/index.ts and replay/player.ts, so it resolves the copies they use.
 * The probe is a fixed element, so its output depends on nothing but those copies: one
 * successful check per process is enough.
 */

import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { ReplayError } from "../format/errors.ts";

const PROBE_TEXT = "hono-replay preact probe";
let passed = false;

/** Throws a ReplayError saying what to do when two copies of preact would render empty pages. */
export function assertSinglePreact(): void {
  if (passed) return;
  const html = renderToString(h("p", null, PROBE_TEXT));
  if (html !== `<p>${PROBE_TEXT}</p>`) {
    throw new ReplayError(
      `hono-replay cannot render: two copies of preact are installed, and preact-render-to-string renders with a different one than hono-replay (a probe <p> rendered as ${JSON.stringify(html.slice(0, 80))}), so every page would have an empty body. ` +
        `Keep one copy: run \`npm ls preact\` to see them, then \`npm dedupe\` or install a preact within hono-replay's peer range (^10.27.0 || ^11.0.0) at the top of your project; with a bundler or an import map, resolve every "preact" import to one path.`,
    );
  }
  passed = true;
}
