/**
 * Names for V8's generated code in callgrind's output (section 8). Callgrind
 * knows the binary's functions (builtins, the runtime, libc) by name, but JIT
 * code only by address (`0x…`): without names, the section could say how many
 * instructions a variant adds and not where. A child run with
 * `--perf-basic-prof` has V8 write `/tmp/perf-<pid>.map`, one line per code
 * object (start, size, name); each address is looked up there.
 *
 * Approximate by design: code that V8 freed and whose memory later held other
 * code appears twice in the map, and the later line wins. The same function
 * compiled at several tiers (`*` optimized, `^` baseline, `+` Maglev, `~`
 * interpreted) is one name.
 */

import { existsSync, readFileSync, rmSync } from "node:fs";

/** Where one code object starts and ends, and whose it is. */
interface Entry {
  start: number;
  end: number;
  name: string;
}

export class JitNames {
  private readonly entries: Entry[];

  private constructor(entries: Entry[]) {
    this.entries = entries;
  }

  /** The map child `pid` wrote (removed once read: it is large, and in /tmp); empty without one. */
  static ofChild(pid: number): JitNames {
    const path = `/tmp/perf-${pid}.map`;
    if (!existsSync(path)) return new JitNames([]);
    const byStart = new Map<number, Entry>();
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const [start, size, ...name] = line.split(" ");
      if (!name.length) continue;
      const at = parseInt(start, 16);
      // A later line at the same address is newer code: it wins.
      byStart.set(at, { start: at, end: at + parseInt(size, 16), name: readable(name.join(" ")) });
    }
    rmSync(path, { force: true });
    return new JitNames([...byStart.values()].sort((a, b) => a.start - b.start));
  }

  /** `fn` as callgrind names it, a C++ function without its parameters, a JIT address replaced by the function's name. */
  name(fn: string): string {
    const address = /^0x([0-9a-f]+)/.exec(fn)?.[1];
    if (address === undefined) return withoutParameters(fn);
    const entry = this.find(parseInt(address, 16));
    return entry ? entry.name : "JIT code (no name in the map)";
  }

  private find(address: number): Entry | undefined {
    let low = 0;
    let high = this.entries.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.entries[mid].start <= address) low = mid + 1;
      else high = mid - 1;
    }
    const entry = this.entries[high];
    return entry && address < entry.end ? entry : undefined;
  }
}

/**
 * `JS:*pageDigest file:///…/hono-replay-bench-x/recorder/page_digest.js:41:27`
 * → `pageDigest recorder/page_digest`. A line number is kept for anonymous
 * functions only, and it is the built file's line.
 */
export function readable(name: string): string {
  const js = /^JS:[*^+~]?(\S*) (.*?)(?::(\d+):\d+)?$/.exec(name);
  if (!js) return name.length > 70 ? name.slice(0, 67) + "…" : name;
  const where = js[2]
    .replace(/^file:\/\/.*\/hono-replay-bench-[^/]+\/(.*)\.js$/, "$1")
    .replace(/^file:\/\/.*\/node_modules\//, "")
    .replace(/^node:internal\/deps\//, "");
  return js[1] ? `${js[1]} ${where}` : `(anonymous) ${where}:${js[3] ?? "?"}`;
}

/** `v8::internal::(anonymous namespace)::IterateObjectCache(v8::internal::Isolate*, …)` → `v8::internal::IterateObjectCache`. */
export function withoutParameters(fn: string): string {
  const name = fn.replaceAll("(anonymous namespace)::", "");
  const open = name.indexOf("(");
  return open > 0 ? name.slice(0, open) : name;
}

/** The functions whose cost a request grew most against `base` (any unit), largest first. */
export function largestAdditions(variant: Map<string, number>, base: Map<string, number>, count: number): [string, number][] {
  const added: [string, number][] = [];
  for (const [name, value] of variant) added.push([name, value - (base.get(name) ?? 0)]);
  return added.sort((a, b) => b[1] - a[1]).slice(0, count);
}
