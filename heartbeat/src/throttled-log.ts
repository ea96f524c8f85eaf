import type { Logger } from "@konorkestra/sdk";

/**
 * Logs a warning per category at most once per period, with how many were held back: a flood of
 * bad heartbeats must show up in the log without becoming one itself.
 */
export class ThrottledLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly periodMs = 10_000,
    private readonly localNow: () => number = Date.now,
  ) {}

  warn(category: string, msg: string): void {
    const now = this.localNow();
    const entry = this.last.get(category);
    if (entry && now - entry.atMs < this.periodMs) {
      entry.suppressed += 1;
      return;
    }
    const held = entry?.suppressed ? ` (${entry.suppressed} more like it since the last line)` : "";
    this.last.set(category, { atMs: now, suppressed: 0 });
    this.logger.warn(msg + held);
  }
}
