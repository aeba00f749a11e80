/**
 * The host's shift at journaling the ring while a dead worker is replaced
 * (worker/bridge.ts does the journaling; this starts, ticks and stops it).
 *
 * Invariants, and why:
 * - One drainer at a time: a shift starts only once the dead worker is
 *   terminated (`terminating()` settled) and while nothing else drains
 *   (`wanted()`: not closed, no in-process engine, no fallback under way, and
 *   the replacement has not asked for the ring yet); the host stops it, after
 *   a last batch, before anything else reads the journal and the ring.
 * - Its faults never reach the host's caller: a journal that cannot be opened
 *   or closed is warned (frames then wait in memory for the replacement).
 */

import { join } from "node:path";
import { JournalBridge } from "./bridge.ts";
import type { HostDeps } from "./host_options.ts";
import { journalName } from "./journal_name.ts";

/** How often the bridge journals the ring while a worker is replaced: what a SIGKILL meanwhile may take from it. */
const BRIDGE_POLL_MS = 10;

export interface BridgeShiftOptions {
  buffer: SharedArrayBuffer;
  journalDir?: string;
  instanceId: string;
  maxHeldChars: number;
  timer: HostDeps["timer"];
  warn(message: string): void;
  /** Worker terminations in progress: the shift starts after them. */
  terminating(): Promise<void>;
  /** Whether the ring still needs journaling by this thread. */
  wanted(): boolean;
}

export class BridgeShift {
  private bridge?: JournalBridge;
  private cancelTick?: () => void;
  private journalPath?: Promise<string>;

  constructor(private readonly o: BridgeShiftOptions) {}

  /** Journals the ring in a dead worker's place until `stop()`. */
  async start(): Promise<void> {
    const dir = this.o.journalDir;
    if (!dir) return;
    this.journalPath ??= journalName(this.o.instanceId).then((name) => join(dir, name));
    const path = await this.journalPath;
    await this.o.terminating();
    if (this.bridge || !this.o.wanted()) return;
    let bridge: JournalBridge;
    try {
      bridge = new JournalBridge(this.o.buffer, path, this.o.maxHeldChars, (m) => this.o.warn(m));
    } catch (error) {
      this.o.warn(`the crash journal ${path} cannot be opened while the persistence worker is replaced (${(error as Error)?.message ?? error}): frames wait in memory for the replacement (a crash meanwhile loses them)`);
      return;
    }
    this.bridge = bridge;
    const tick = () => {
      if (this.bridge !== bridge) return;
      bridge.tick();
      this.cancelTick = this.o.timer(tick, BRIDGE_POLL_MS, false);
    };
    tick();
  }

  /** Stops the bridge after a last batch, before anything else reads the ring or the journal. */
  stop(): void {
    const bridge = this.bridge;
    if (!bridge) return;
    this.bridge = undefined;
    this.cancelTick?.();
    try {
      bridge.stop();
    } catch (error) {
      this.o.warn(`closing the crash journal ${bridge.path} failed: ${(error as Error)?.message ?? error}`);
    }
  }
}
