/**
 * What goes wrong while the dashboard serves, in one place: storage outages
 * and live streams that fail. Nothing here is swallowed; everything is counted
 * (the index shows the counts) and logged, without flooding the log.
 *
 * Invariants, and why:
 * - A store call that fails for a reason not about one recording (not found,
 *   corrupt, invalid id are `ReplayError`s) means the storage is unavailable:
 *   it becomes a `StorageUnavailableError`, which pages answer with a 503. The
 *   outage is logged once, with its cause, and the first call that succeeds
 *   ends it, so the next outage is logged again. Nothing about the failure is
 *   cached: recovery needs no restart.
 * - A live stream's error, and an `authorize` that throws, are logged the
 *   1st, 10th, 100th… time (with the count; logger.ts `Faults`), not every
 *   time: browsers reconnect every few seconds and every request asks
 *   authorize, and a persistent fault must not fill the log. A client that
 *   hangs up is not an error (hono's stream writes ignore a closed connection).
 * - Everything goes to the dashboard's `logger` (its option; by default the
 *   replay's, `replay.store.logger`), never straight to the console.
 */

import { ReplayError } from "../format/mod.ts";
import { Faults, type Logger } from "../logger.ts";

/** The storage threw something that is not about one recording: it is down or unreachable. */
export class StorageUnavailableError extends Error {}

/** A store call that did not settle in time: the replay is closing, or the storage hangs. */
export class TimeoutError extends Error {}

/** The `Faults` kinds the dashboard counts. */
const STREAM_FAULT = "dashboard live stream";
export const AUTHORIZE_FAULT = "dashboard authorize";

export class Problems {
  /** Store calls that failed as unavailable, since the dashboard was created. */
  storageFailures = 0;
  /** Faults that can repeat on every request (a live stream, `authorize`): counted, logged 1, 10, 100… times. */
  readonly faults: Faults;
  private inOutage = false;

  constructor(readonly logger: Logger) {
    this.faults = new Faults(logger);
  }

  /** Live streams that ended because of an error (not because the browser left). */
  get streamErrors(): number {
    return this.faults.count(STREAM_FAULT);
  }

  /** Runs a store call: a failure that is not about one recording means the storage is unavailable. */
  async stored<T>(work: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      if (error instanceof ReplayError) throw error;
      throw new StorageUnavailableError((error as Error)?.message ?? String(error), { cause: error });
    }
    this.inOutage = false;
    return result;
  }

  /** A store call failed as unavailable: counted, and logged once per outage. */
  storageDown(error: StorageUnavailableError): void {
    this.storageFailures++;
    if (this.inOutage) return;
    this.inOutage = true;
    this.logger.error(`dashboard: the recording storage is unavailable (${error.message}); answering 503 until it is back`);
  }

  /** A live stream failed: storage outages go through `storageDown`; anything else is counted and logged 1, 10, 100… times. */
  streamFailed(stream: string, error: unknown): void {
    if (error instanceof StorageUnavailableError) return this.storageDown(error);
    this.faults.report(STREAM_FAULT, error, () => `dashboard: the live stream ${stream} failed; the browser reconnects`);
  }
}

/** Requests to a closed replay never settle; a stream must not wait on them forever. */
export function withTimeout<T>(work: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new TimeoutError(`no answer from the store within ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
