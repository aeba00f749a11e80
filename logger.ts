/**
 * The one way hono-replay reports what went wrong without failing a request.
 *
 * Invariants, and why:
 * - Every error that is handled rather than thrown goes through a `Logger`
 *   (an option of `createReplay`, `createDashboard` and every storage factory;
 *   `console` when none is given). A `catch` that neither rethrows, counts nor
 *   logs hides the fault that loses a user's recording.
 * - `Faults` counts each kind of fault and logs it the 1st, 10th, 100th… time
 *   with the count so far: a persistent fault (a full disk, a database that is
 *   down) must not fill the log, and must not go quiet either.
 * - This module imports nothing: every layer (recorder, worker, storage,
 *   dashboard) may import it without creating a cycle.
 */

/** Where hono-replay's warnings and errors go. `console` by default. */
export interface Logger {
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

/** Writes to the console, each line prefixed with "hono-replay: ". */
export const consoleLogger: Logger = Object.freeze({
  warn: (message: string) => console.warn(`hono-replay: ${message}`),
  error: (message: string, error?: unknown) =>
    error === undefined ? console.error(`hono-replay: ${message}`) : console.error(`hono-replay: ${message}`, error),
});

/** Counts faults by kind; logs a kind's 1st, 10th, 100th… occurrence with its count. */
export class Faults {
  private readonly counts = new Map<string, number>();

  constructor(private readonly logger: Logger = consoleLogger) {}

  /** Counts one fault of `kind`; `describe` is called only when it is logged. */
  report(kind: string, error: unknown, describe: () => string = () => kind): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (!isPowerOfTen(n)) return;
    const reason = (error as Error)?.message ?? String(error);
    this.logger.warn(`${describe()} (${reason})${n > 1 ? `; ${n} times so far` : ""}`);
  }

  /** How many faults of `kind` were reported. */
  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Every kind reported, with its count. */
  all(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

function isPowerOfTen(n: number): boolean {
  if (n < 1) return false;
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}
