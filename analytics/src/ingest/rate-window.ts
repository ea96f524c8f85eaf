/** Events per second over a sliding window (for the pipeline's rows/s). */
export class RateWindow {
  private readonly samples: { at: number; n: number }[] = [];

  constructor(private readonly windowMs: number) {}

  add(n: number, now = Date.now()): void {
    this.samples.push({ at: now, n });
    this.trim(now);
  }

  perSecond(now = Date.now()): number {
    this.trim(now);
    const total = this.samples.reduce((s, x) => s + x.n, 0);
    return total / (this.windowMs / 1000);
  }

  private trim(now: number): void {
    while (this.samples.length > 0 && this.samples[0]!.at < now - this.windowMs) {
      this.samples.shift();
    }
  }
}
