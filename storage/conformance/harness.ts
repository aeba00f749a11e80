/**
 * What every group of conformance cases is given: `Harness` (where a case is
 * registered, the two handles on the storage under test, a ReplayStore over
 * it), the assertions, and the small helpers the cases share. Also the
 * suite's public types and `conformanceSuite`, which runs the registered cases.
 *
 * Invariants: it needs nothing but the library and the runtime (assertions
 * are node:assert, which Node, Deno and Bun all have); the cases run in the
 * order they were registered, on one storage opened before the first and
 * closed after the last, cleared before each.
 */

import * as nodeAssert from "node:assert/strict";
import type { RecordingSummary } from "../../format/mod.ts";
import { ReplayStore } from "../../replay/mod.ts";
import type { RecordingStorage } from "../types.ts";
import type { Fixture } from "./fixtures.ts";

type Maybe<T> = T | Promise<T>;

/** One conformance test. */
export interface ConformanceCase {
  name: string;
  fn(): Promise<void>;
}

/** The suite for one backend: its cases and their set-up, for any runner. */
export interface ConformanceSuite {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
  /** Opens the storage (and the second handle). Before the first case. */
  setup(): Promise<void>;
  /** Clears the storage. Before each case. */
  beforeEach(): Promise<void>;
  /** Clears and closes. After the last case. */
  teardown(): Promise<void>;
  /**
   * Hands every case to `test(name, fn)` (node:test's `test`, `Deno.test`,
   * vitest's `test`…), in order; the first opens the storage, the last closes it.
   */
  register(test: (name: string, fn: () => Promise<void>) => unknown): void;
}

export interface StorageUnderTest {
  /** Shown in the suite's name. */
  name: string;
  /** The storage to test. Opened once per suite; the suite clears it before each test. */
  open(): Maybe<RecordingStorage>;
  /**
   * A second, independent handle on the same data (another connection or
   * instance), for the concurrency tests and createReplay. Default: the same object.
   */
  openAnother?(): Maybe<RecordingStorage>;
  /** Damages one recording's stored bytes where this backend keeps them. Default: saves damaged bytes through save(). */
  corrupt?(storage: RecordingStorage, id: string, bytes: Uint8Array): Promise<void>;
  /** Whether save() refuses invalid ids with InvalidIdError. Default true. */
  validatesIds?: boolean;
  /** Called after the suite, after the storages are closed. */
  teardown?(): Maybe<void>;
}

/** What a group of cases registers its cases with, and runs them on. */
export class Harness {
  readonly cases: ConformanceCase[] = [];
  /** The storage under test; set before the first case runs. */
  storage!: RecordingStorage;
  /** A second handle on the same data (the same object when the target has none). */
  other!: RecordingStorage;

  constructor(readonly target: StorageUnderTest) {}

  /** Registers a case; cases run in the order registered. */
  readonly test = (name: string, fn: () => Promise<void>): void => void this.cases.push({ name, fn });

  /** A ReplayStore over the storage under test, without an engine. */
  store(): ReplayStore {
    return new ReplayStore(this.storage, () => Promise.reject(new Error("no engine in this test")), { maxRecordings: 1000, maxRecordingAgeMs: 1e12 });
  }
}

/** The suite that runs a harness's cases: opened before the first, cleared before each, closed after the last. */
export function conformanceSuite(h: Harness): ConformanceSuite {
  const suite: ConformanceSuite = {
    name: `${h.target.name} storage conformance`,
    cases: h.cases,
    async setup() {
      h.storage = await h.target.open();
      h.other = h.target.openAnother ? await h.target.openAnother() : h.storage;
    },
    async beforeEach() {
      await h.storage.clear();
    },
    async teardown() {
      await h.storage.clear().catch((error) => console.warn(`conformance: clearing after the suite failed: ${error?.message ?? error}`));
      if (h.other !== h.storage) await h.other.close?.();
      await h.storage.close?.();
      await h.target.teardown?.();
    },
    register(runnerTest) {
      let opened: Promise<void> | undefined;
      h.cases.forEach((c, i) =>
        runnerTest(`${suite.name}: ${c.name}`, async () => {
          await (opened ??= suite.setup());
          try {
            await suite.beforeEach();
            await c.fn();
          } finally {
            if (i === h.cases.length - 1) await suite.teardown();
          }
        })
      );
    },
  };
  return suite;
}

/** The assertions the cases use, on node:assert (no test library needed). */
export const assert = {
  equal: (actual: unknown, expected: unknown, message?: string) => nodeAssert.deepStrictEqual(actual, expected, message),
  is: (actual: unknown, expected: unknown, message?: string) => nodeAssert.strictEqual(actual, expected, message),
  ok: (value: unknown, message?: string) => nodeAssert.ok(value, message),
  match: (text: string, pattern: string | RegExp, message?: string) =>
    typeof pattern === "string" ? nodeAssert.ok(text.includes(pattern), message ?? `${JSON.stringify(text)} includes ${JSON.stringify(pattern)}`) : nodeAssert.match(text, pattern, message),
  type: (value: unknown, type: string, message?: string) => nodeAssert.strictEqual(typeof value, type, message),
  instance: (value: unknown, type: new (...args: never[]) => unknown, message?: string) => nodeAssert.ok(value instanceof type, message),
  unreachable: (message: string): never => nodeAssert.fail(message),
  not: { ok: (value: unknown, message?: string) => nodeAssert.ok(!value, message) },
};

export const ids = (items: RecordingSummary[]) => items.map((s) => s.id);

/** The error `work` rejects with, which must be one of `types`. */
export async function rejects(work: () => Promise<unknown>, ...types: (new (...args: never[]) => Error)[]): Promise<Error> {
  try {
    await work();
  } catch (error) {
    assert.ok(types.some((t) => error instanceof t), `expected ${types.map((t) => t.name).join(" or ")}, got ${(error as Error)?.stack ?? error}`);
    return error as Error;
  }
  assert.unreachable(`expected ${types.map((t) => t.name).join(" or ")}, nothing was thrown`);
  throw new Error("unreachable");
}

export async function saveAll(storage: RecordingStorage, fixtures: Fixture[]) {
  for (const f of fixtures) await storage.save(f.summary, f.bytes);
}

/** A handle whose close() does nothing: createReplay closes its storage, the suite closes its own. */
export function borrowed(storage: RecordingStorage): RecordingStorage {
  return { ...storage, close: async () => {} };
}
