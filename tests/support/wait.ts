/**
 * Waiting in tests: for a condition, never for a fixed time.
 *
 * Invariants, and why:
 * - `waitFor` polls until the probe returns a truthy value and returns that
 *   value; it never asserts on timing. A slow machine (CI, two cores shared by
 *   several runs) makes a test slower, not red.
 * - The deadline is generous and, when it passes, the error says what was
 *   awaited and the probe's last error or last value: a timeout that says only
 *   "timed out" sends the next person to rerun it with logging.
 * - A probe that throws is retried (a server not up yet, a file half-written);
 *   its error is kept for the report.
 * - `sleep` is for pacing what a test simulates (keystrokes a person types a
 *   little apart) or for proving something does not happen within a window;
 *   waiting for something to happen is `waitFor`.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every `intervalMs` until it returns something truthy, and
 * returns it; after `timeoutMs`, throws naming `what` and the last error (or value).
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = `last value: ${String(value)}`;
    } catch (error) {
      last = `last error: ${(error as Error)?.stack ?? error}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`);
    await sleep(intervalMs);
  }
}
