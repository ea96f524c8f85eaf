/** A period in which this monitor could not hear heartbeats, in the NATS server's time. */
export interface BlindWindow {
  readonly startMs: number;
  /** When the monitor heard again (its consumer current after reconnecting); Infinity while blind. */
  endMs: number;
}

/** How many past windows are kept; older ones can no longer move a deadline that matters. */
const KEEP = 16;

/**
 * The monitor's blind periods, and what they do to deadlines. While the monitor is cut off from
 * NATS (a broker restart, its own connection lost) it cannot tell a silent node from a node it
 * cannot hear — and after a broker restart the heartbeat stream itself has a hole for every
 * node, so "the server's record" would call the whole fleet dead. A blind period is therefore
 * its own state, not an outage: a deadline that falls while the monitor is blind, for a node
 * last heard before it heard again, is re-armed to `end + grace + TTL` — the node gets a full
 * TTL (plus time to reconnect) once the monitor can hear it. A node that really stopped is still
 * reported, at the re-armed deadline; a node that comes back is never reported down.
 */
export class BlindWindows {
  private readonly windows: BlindWindow[] = [];

  /** @param graceMs time nodes get to reconnect after the monitor hears again */
  constructor(private readonly graceMs: number) {}

  get isBlind(): boolean {
    return this.windows[this.windows.length - 1]?.endMs === Infinity;
  }

  /** The open window's start, if blind. */
  get blindSinceMs(): number | undefined {
    const last = this.windows[this.windows.length - 1];
    return last?.endMs === Infinity ? last.startMs : undefined;
  }

  /** Every window kept, oldest first (copies). */
  list(): BlindWindow[] {
    return this.windows.map((w) => ({ ...w }));
  }

  /** The monitor stopped hearing at `startMs` (server time); a no-op while already blind. */
  begin(startMs: number): void {
    if (this.isBlind) return;
    this.windows.push({ startMs, endMs: Infinity });
    if (this.windows.length > KEEP) this.windows.shift();
  }

  /** The monitor hears again as of `endMs`; returns the closed window, if one was open. */
  end(endMs: number): BlindWindow | undefined {
    const last = this.windows[this.windows.length - 1];
    if (last?.endMs !== Infinity) return undefined;
    last.endMs = Math.max(last.startMs, endMs);
    return { ...last };
  }

  /**
   * The deadline of a node last heard at `lastAtMs` with `ttlMs`: `lastAtMs + ttlMs`, moved past
   * every blind window it fell into (Infinity while the window is open).
   */
  deadline(lastAtMs: number, ttlMs: number): number {
    let d = lastAtMs + ttlMs;
    for (const w of this.windows) {
      if (d >= w.startMs && lastAtMs < w.endMs) d = Math.max(d, w.endMs + this.graceMs + ttlMs);
    }
    return d;
  }

  /** The window that moved a deadline computed by {@link deadline}, for the down's reason. */
  movedBy(lastAtMs: number, ttlMs: number): BlindWindow | undefined {
    const plain = lastAtMs + ttlMs;
    if (this.deadline(lastAtMs, ttlMs) === plain) return undefined;
    return this.windows.find((w) => plain >= w.startMs && lastAtMs < w.endMs);
  }
}
