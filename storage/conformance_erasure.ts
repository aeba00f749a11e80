/**
 * The conformance cases for erasure, part of the suite in conformance.ts: the
 * backend's erasure marks (`addErasure`, `listErasures`).
 *
 * Marks outlive `clear()` by design, so the cases use ids of their own and
 * start times that cover nothing another case records.
 */

import type { h } from "preact";
import * as nodeAssert from "node:assert/strict";
import { InvalidIdError, randomToken } from "../format/mod.ts";
import type { Erasure, RecordingStorage } from "./types.ts";

export interface ErasureCaseContext {
  test(name: string, fn: () => Promise<void>): void;
  storage(): RecordingStorage;
  other(): RecordingStorage;
  /** A handle createReplay may close. */
  borrowed(storage: RecordingStorage): RecordingStorage;
  /** The suite's fixture view. */
  view: (props: { label: string; count: number }) => ReturnType<typeof h>;
}

const HOUR = 3_600_000;

export function erasureCases({ test, storage, other }: ErasureCaseContext): void {
  test("erasure marks: every handle lists one once added; the same id again changes nothing; clear keeps them; expired ones are not listed", async () => {
    const run = randomToken(8);
    const bySession: Erasure = { id: `0mark-${run}-a`, at: 1, until: Date.now() + HOUR, sessionKey: "k1" };
    const byData: Erasure = { id: `0mark-${run}-b`, at: 2, until: Date.now() + HOUR, session: { userId: "42", org: { id: 7, admin: true, note: null } } };
    await storage().addErasure(bySession);
    await other().addErasure(byData);
    await other().addErasure({ ...bySession, sessionKey: "changed" });
    await storage().addErasure({ id: `0mark-${run}-old`, at: 3, until: Date.now() - 1, recordingId: "0rec-x" });
    const mine = async (handle: RecordingStorage) => (await handle.listErasures()).filter((e) => e.id.includes(run)).sort((a, b) => a.at - b.at);
    nodeAssert.deepStrictEqual(await mine(other()), [bySession, byData], "listed whole by the other handle, the first version of a) kept, the expired one left out");
    await storage().clear();
    nodeAssert.deepStrictEqual(await mine(storage()), [bySession, byData], "clear() keeps the marks: they must outlive what they erased");
    for (const id of ["../x", "", "a/b", "x".repeat(101)]) {
      await nodeAssert.rejects(storage().addErasure({ ...bySession, id }), InvalidIdError, `id ${JSON.stringify(id)} refused`);
    }
  });
}
