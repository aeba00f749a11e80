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
 * - A live stream's error is logged the 1st, 10th, 100th… time (with the
 *   count), not every time: browsers reconnect every few seconds, and a
 *   persistent fault must not fill the log. A client that hangs up is not an
 *   error (hono's stream writes ignore a closed connection).
 */

import { ReplayError } from "../format/mod.ts";

/** The storage threw something that is not about one recording: it is down or unreachable. */
export class StorageUnavailableError extends Error {}

/** A store call that did not settle in time: the replay is closing, or the storage hangs. */
export class TimeoutError extends Error {}

export class Problems {
  /** Store calls that failed as unavailable, since the dashboard was created. */
  storageFailures = 0;
  /** Live streams that ended because of an error (not because the browser left). */
  streamErrors = 0;
  private inOutage = false;

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
    console.error(`hono-replay dashboard: the recording storage is unavailable (${error.message}); answering 503 until it is back`);
  }

  /** A live stream failed: storage outages go through `storageDown`; anything else is counted and logged 1, 10, 100… times. */
  streamFailed(stream: string, error: unknown): void {
    if (error instanceof StorageUnavailableError) return this.storageDown(error);
    this.streamErrors++;
    if (!isPowerOfTen(this.streamErrors)) return;
    console.error(`hono-replay dashboard: the live stream ${stream} failed (${this.streamErrors} stream errors so far; the browser reconnects):`, error);
  }
}

function isPowerOfTen(n: number): boolean {
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}

/** Requests to a closed replay never settle; a stream must not wait on them forever. */
export function withTimeout<T>(work: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new TimeoutError(`no answer from the store within ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
