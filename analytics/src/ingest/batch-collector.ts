/**
 * Cuts a stream of items into batches: a batch is handed on when it holds `maxItems`, or
 * `maxWaitMs` after its first item arrived, whichever comes first. One timer per batch, not per
 * item: at 100,000 items per second a timer or promise per item would cost more than the items.
 */
export class BatchCollector<T> {
  private current: T[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxItems: number,
    private readonly maxWaitMs: number,
    private readonly onBatch: (items: T[]) => void,
  ) {}

  add(item: T): void {
    this.current.push(item);
    if (this.current.length === 1) this.timer = setTimeout(() => this.cut(), this.maxWaitMs);
    if (this.current.length >= this.maxItems) this.cut();
  }

  /** Hands on what has been collected, if anything. */
  cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.current.length === 0) return;
    const batch = this.current;
    this.current = [];
    this.onBatch(batch);
  }

  /** Takes what has been collected without handing it on (when stopping). */
  takeAll(): T[] {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.current;
    this.current = [];
    return batch;
  }
}
