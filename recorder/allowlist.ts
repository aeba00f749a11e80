/**
 * Allowlist mode: only the assigns and params it lists are stored; every other
 * value is replaced by `[redacted: not in allowlist]` (the key stays, so a
 * replay shows what was there). Choose it when the views carry data you cannot
 * enumerate the secrets of (health, finance, free text users paste into): a
 * blocklist misses a secret nobody thought of, an allowlist misses only a
 * field nobody listed, and that shows as a marker in replay instead of a leak.
 *
 * Entries are top-level names (`"email"`: the whole value, still sanitized) or
 * dotted paths (`"form.email"`: that field of `form`, the rest of `form`
 * markers). A list for a view replaces the global list for that view. The
 * default sanitizer's name and value rules still apply to what is kept. Query
 * values of the stored URL follow the params list.
 */

export interface AllowlistRules {
  /** Assign names or dotted paths to keep. */
  assigns?: string[];
  /** Param (route, query, body) names or dotted paths to keep. */
  params?: string[];
}

export interface Allowlist extends AllowlistRules {
  /** Per view, by registered name: replaces the global lists for that view. */
  views?: Record<string, AllowlistRules>;
}

const NOT_ALLOWED = "[redacted: not in allowlist]";

interface Tree {
  [name: string]: Tree | true;
}

/** The compiled allowlist: applied to a record before the sanitizer sees it. */
export class AllowlistFilter {
  private readonly cache = new Map<string, { assigns?: Tree; params?: Tree }>();

  constructor(private readonly list: Allowlist) {
    for (const [where, rules] of [["allowlist", list], ...Object.entries(list.views ?? {}).map(([v, r]) => [`allowlist.views.${v}`, r])] as const) {
      for (const kind of ["assigns", "params"] as const) {
        const entries = (rules as AllowlistRules)[kind];
        if (entries !== undefined && (!Array.isArray(entries) || entries.some((e) => typeof e !== "string" || e === ""))) {
          throw new TypeError(`createReplay: ${where}.${kind} must be a list of names or dotted paths, e.g. ["email", "form.email"]`);
        }
      }
    }
  }

  assigns(view: string, record: Record<string, unknown>): Record<string, unknown> {
    const tree = this.trees(view).assigns;
    return tree ? pick(record, tree) as Record<string, unknown> : record;
  }

  params(view: string, record: Record<string, unknown>): Record<string, unknown> {
    const tree = this.trees(view).params;
    return tree ? pick(record, tree) as Record<string, unknown> : record;
  }

  /** Whether a query name is kept in the stored URL, for `view`. */
  paramAllowed(view: string): ((name: string) => boolean) | undefined {
    const tree = this.trees(view).params;
    return tree ? (name) => Object.hasOwn(tree, name) : undefined;
  }

  private trees(view: string) {
    let t = this.cache.get(view);
    if (!t) {
      const rules = this.list.views?.[view] ?? this.list;
      t = { assigns: rules.assigns && compile(rules.assigns), params: rules.params && compile(rules.params) };
      this.cache.set(view, t);
    }
    return t;
  }
}

function compile(paths: string[]): Tree {
  const root: Tree = {};
  for (const path of paths) {
    let node = root;
    const parts = path.split(".");
    parts.forEach((part, i) => {
      if (node[part] === true) return;
      if (i === parts.length - 1) node[part] = true;
      else node = (node[part] ??= {}) as Tree;
    });
  }
  return root;
}

function pick(value: unknown, tree: Tree): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Map || value instanceof Set) {
    return NOT_ALLOWED;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const rule = Object.hasOwn(tree, key) ? tree[key] : undefined;
    const v = (value as Record<string, unknown>)[key];
    const kept = rule === true ? v : rule ? pick(v, rule) : NOT_ALLOWED;
    // A "__proto__" key (a parsed JSON body) stays data, not the prototype.
    Object.defineProperty(out, key, { value: kept, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
