/**
 * No value-import cycle among the library's modules. In a cycle, one module
 * of it runs before the other has finished loading, and a `const` or class it
 * uses at load time is not there yet (a TDZ error on one runtime, on one import
 * order). Type-only imports are erased and do not count: `import type`,
 * `export type … from`, and an import whose every name is `type`.
 *
 * Imports are read with a small parser of import/export declarations at the
 * start of a line (the project's style); dynamic `import()` is not a load-time
 * edge and is left out.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const LIBRARY = ["mod.ts", "idb.ts", "defaults.ts", "logger.ts", "options.ts", "internal.ts", "format", "recorder", "worker", "storage", "replay", "dashboard"];
const isLibraryFile = (f: string) => /\.tsx?$/.test(f) && !/\.test\.tsx?$|\.fixture\.ts$|\.gen\.ts$|\.d\.ts$/.test(f);

function libraryFiles(): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else if (isLibraryFile(path)) out.push(relative(root, path));
  };
  for (const entry of LIBRARY) walk(join(root, entry));
  return out.sort();
}

/** The relative modules `source` imports or re-exports as values. */
export function valueImports(source: string): string[] {
  const out: string[] = [];
  const declaration = /^(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']|^import\s+["']([^"']+)["']/gm;
  for (const m of source.matchAll(declaration)) {
    const specifier = m[4] ?? m[5];
    if (!specifier.startsWith(".")) continue;
    if (m[2]) continue; // import type / export type
    const clause = m[3] ?? "";
    const braces = clause.match(/^\{([\s\S]*)\}$/);
    if (braces) {
      const names = braces[1].split(",").map((n) => n.trim()).filter(Boolean);
      if (names.length && names.every((n) => n.startsWith("type "))) continue;
    }
    out.push(specifier);
  }
  return out;
}

/** Every cycle found by a depth-first walk, each as the path of files around it. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

test("the parser tells value imports from type-only ones", () => {
  const source = [
    `import type { A } from "./a.ts";`,
    `import { type B, type C } from "./b.ts";`,
    `import { type D, e } from "./d.ts";`,
    `import {\n  f,\n  type G,\n} from "./f.ts";`,
    `export type { H } from "./h.ts";`,
    `export { i } from "./i.ts";`,
    `import "./side_effect.ts";`,
    `import { jsx } from "hono/jsx";`,
    ` * import { idbStorage } from "./in_a_comment.ts";`,
  ].join("\n");
  assert.equal(valueImports(source), ["./d.ts", "./f.ts", "./i.ts", "./side_effect.ts"]);
  const cyclic = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.equal(findCycles(cyclic), [["a", "b", "c", "a"]]);
});

test("no value-import cycle among the library's modules", () => {
  const files = libraryFiles();
  assert.ok(files.includes("mod.ts") && files.length > 30, `the library's files are found (${files.length})`);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = valueImports(readFileSync(join(root, file), "utf8")).map((spec) => relative(root, resolve(root, dirname(file), spec)));
    graph.set(file, deps);
  }
  const cycles = findCycles(graph).map((c) => c.join(" -> "));
  assert.equal(cycles, [], `value-import cycles:\n${cycles.join("\n")}`);
});

test.run();
