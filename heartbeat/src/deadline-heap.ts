/** One scheduled check: `key` is due at `atMs` (event time). */
export interface HeapEntry<T> {
  atMs: number;
  key: string;
  data: T;
}

/**
 * A binary min-heap of deadlines. Entries are never updated in place: a newer heartbeat pushes a
 * new entry and the caller discards stale ones when they surface (lazy deletion), which keeps a
 * heartbeat at O(log n) with no index to maintain.
 */
export class DeadlineHeap<T> {
  private readonly items: HeapEntry<T>[] = [];

  get size(): number {
    return this.items.length;
  }

  push(entry: HeapEntry<T>): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.atMs <= entry.atMs) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  /** Earliest deadline, if any. */
  peek(): HeapEntry<T> | undefined {
    return this.items[0];
  }

  /** Removes and returns the earliest entry due at or before `nowMs`. */
  popDue(nowMs: number): HeapEntry<T> | undefined {
    const top = this.items[0];
    if (top === undefined || top.atMs > nowMs) return undefined;
    const last = this.items.pop()!;
    if (this.items.length > 0) this.siftDown(last);
    return top;
  }

  private siftDown(entry: HeapEntry<T>): void {
    const items = this.items;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right]!.atMs < items[left]!.atMs ? right : left;
      if (items[child]!.atMs >= entry.atMs) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = entry;
  }
}
