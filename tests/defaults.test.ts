/**
 * README.md's Configuration table and DEFAULTS (defaults.ts) say the same:
 * every option with a default value is in the table with that value, and
 * every row of the table names an option. The table is what users read, DEFAULTS
 * is what runs; this test is what keeps them one.
 *
 * The default column is read as written: a code span is a JavaScript literal
 * (`10_000`, `"tagged"`, `{ maxDepth: 8, … }`), or a number with a unit
 * ("7 days", "4 MiB"). Options without a value as default are listed below with
 * the text the table must give them.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULTS } from "../defaults.ts";
import { resolveOptions } from "../options.ts";
import { memoryStorage } from "../mod.ts";

const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");

/** Options whose default is a behavior, not a value: the table's text for each. */
const DESCRIBED: Record<string, RegExp> = {
  views: /required/,
  storage: /^`fileStorage\(\{ path: "replay_recordings" \}\)`$/,
  session: /^none$/,
  sanitizer: /^built in$/,
  journal: /^`<storage path>\/\.journal`, else `<tmp>\/hono-replay-<uid>\/<storage hash>`$/,
  fidelityKey: /^env `HONO_REPLAY_FIDELITY_KEY`, else derived from `secret`/,
  secret: /^env `HONO_REPLAY_SECRET`, else the store's shared secret$/,
  allowlist: /^none$/,
  logger: /^console$/,
};

const UNITS: Record<string, number> = {
  day: 86_400_000,
  days: 86_400_000,
  hour: 3_600_000,
  hours: 3_600_000,
  min: 60_000,
  MiB: 1024 * 1024,
  Mi: 1024 * 1024,
};

/** The rows of the `createReplay(options)` table: option names and the default cell, as written. */
function configurationRows(): { names: string[]; cell: string }[] {
  const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1));
  const rows = section.split("\n").filter((line) => line.startsWith("| `"));
  assert.ok(rows.length > 20, `the Configuration table has rows (${rows.length})`);
  return rows.map((line) => {
    const [names, cell] = line.split(/(?<!\\)\|/).slice(1, 3).map((c) => c.trim());
    return { names: [...names.matchAll(/`(\w+)`/g)].map((m) => m[1]), cell };
  });
}

/** The value(s) a default cell states; several for a row of several options ("`a` / `b`"). */
function parseCell(cell: string): unknown[] {
  const spans = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  if (spans.length) return spans.map((js) => new Function(`return (${js});`)());
  const unit = cell.match(/^([\d_.]+) (\w+)/);
  if (unit && UNITS[unit[2]]) return [Number(unit[1].replaceAll("_", "")) * UNITS[unit[2]]];
  throw new Error(`cannot read the default "${cell}"`);
}

test("every row of README's Configuration table states the default in DEFAULTS", () => {
  const seen = new Set<string>();
  for (const { names, cell } of configurationRows()) {
    for (const name of names) seen.add(name);
    if (names.length === 1 && DESCRIBED[names[0]]) {
      assert.match(cell, DESCRIBED[names[0]], `${names[0]}: ${cell}`);
      continue;
    }
    const values = parseCell(cell);
    assert.is(values.length, names.length, `one value per option in "${names.join(" / ")}"`);
    names.forEach((name, i) => {
      assert.ok(name in DEFAULTS, `${name} is in DEFAULTS`);
      assert.equal(values[i], DEFAULTS[name as keyof typeof DEFAULTS], `${name}: README says ${cell}`);
    });
  }
  for (const name of [...Object.keys(DEFAULTS), ...Object.keys(DESCRIBED)]) assert.ok(seen.has(name), `${name} is in README's table`);
});

test("resolveOptions fills every default from DEFAULTS and keeps what is given", () => {
  const views = { V: () => null };
  const storage = memoryStorage();
  const o = resolveOptions({ views, storage });
  assert.is(o.log.ringBytes, DEFAULTS.ringBytes);
  assert.is(o.log.overflowLimit, DEFAULTS.overflowLimit);
  assert.is(o.recorder.beaconPath, DEFAULTS.beaconPath);
  assert.is(o.recorder.settings.maxEvents, DEFAULTS.maxEvents);
  assert.is(o.host.idleTimeoutMs, DEFAULTS.idleTimeoutMs * 2, "the engine's idle check is the recorder's safety net");
  assert.equal(o.cleanup, { maxRecordings: DEFAULTS.maxRecordings, maxRecordingAgeMs: DEFAULTS.maxRecordingAgeMs });
  assert.is(o.host.journalDir, undefined, "memoryStorage: no spec, no journal");

  const given = resolveOptions({ views, storage, maxEvents: 7, beaconPath: "/bye", idleTimeoutMs: undefined, limits: { maxDepth: 2 } });
  assert.is(given.recorder.settings.maxEvents, 7);
  assert.is(given.recorder.beaconPath, "/bye");
  assert.is(given.recorder.idleTimeoutMs, DEFAULTS.idleTimeoutMs, "undefined means the default");
  assert.throws(() => resolveOptions({ views: {} }), /give the views/);
  assert.throws(() => resolveOptions({ views, storage, format: "xml" as never }), /format must be/);
});

test("a storage says where its journal goes; journal: false and a path override it", async () => {
  const { fileStorage } = await import("../storage/file.ts");
  const views = { V: () => null };
  const storage = fileStorage({ path: "/tmp/hono-replay-defaults-test" });
  assert.is(storage.journalDir, "/tmp/hono-replay-defaults-test/.journal");
  assert.is(resolveOptions({ views, storage }).host.journalDir, storage.journalDir);
  assert.is(resolveOptions({ views, storage, journal: false }).host.journalDir, undefined);
  assert.is(resolveOptions({ views, storage, journal: "/elsewhere" }).host.journalDir, "/elsewhere");
});

test.run();
