/**
 * `npm run bench` — every benchmark of issue 6, printed as a table and written
 * to bench/results.json and bench/results.md.
 *
 *   npm run bench                      the full run (several minutes)
 *   npm run bench -- --quick           small enough for CI (the smoke test runs it)
 *   npm run bench -- --markdown        also print the markdown table for the README
 *   npm run bench -- --only=size,drain some sections: size hotPath request inProcess replay drain memory idle scaling
 *   npm run bench -- --only=instructions   instructions per request under valgrind (opt-in, minutes)
 *   npm run bench -- --only=samples        the request thread by function under perf (opt-in, a minute)
 *   npm run bench -- --out=DIR         write results.json / results.md to DIR
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { isDeno } from "../worker/mod.ts";
import { renderMarkdown, renderText } from "./lib.ts";
import { OPT_IN_SECTIONS, runBench, SECTIONS, type SectionId } from "./run.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const only = value("only")?.split(",").map((s) => s.trim()).filter(Boolean) as SectionId[] | undefined;
for (const id of only ?? []) {
  if (![...SECTIONS, ...OPT_IN_SECTIONS].includes(id)) {
    console.error(`unknown section ${id}; one of ${[...SECTIONS, ...OPT_IN_SECTIONS].join(", ")}`);
    process.exit(2);
  }
}
const quick = flag("quick");
const results = await runBench({
  quick,
  only,
  outDir: value("out") ?? fileURLToPath(new URL(".", import.meta.url)),
  command: isDeno ? ["deno run -A bench/main.ts", ...args].join(" ") : ["npm run bench", ...(args.length ? ["--", ...args] : [])].join(" "),
  progress: (line) => console.error(line),
});
console.log(renderText(results));
if (flag("markdown")) {
  console.log("");
  console.log(renderMarkdown(results));
}
// Workers and servers are closed; do not wait on anything a section left behind.
process.exit(0);
