/**
 * The beat grid of N nodes sharing one interval: node i beats at
 * `start + i × interval / N + k × interval`, so the nodes are spread evenly over each interval
 * and the beats of the whole fleet come in a fixed cyclic order (node 0, 1, …, N−1, 0, …). One
 * cursor over that order is all a single timer needs: each tick takes the beats that are due,
 * whatever their number, in O(beats) and without a per-node scan.
 */
export class BeatSchedule {
  /** Global index of the next beat: node `next % nodes`, round `floor(next / nodes)`. */
  private next = 0;

  constructor(
    readonly nodes: number,
    readonly intervalMs: number,
    readonly startMs: number,
  ) {
    if (!Number.isInteger(nodes) || nodes < 1) throw new RangeError("nodes must be ≥ 1");
    if (!(intervalMs > 0)) throw new RangeError("intervalMs must be > 0");
  }

  /** When beat `index` (global) is due. */
  dueAt(index: number): number {
    const round = Math.floor(index / this.nodes);
    const slot = index - round * this.nodes;
    return this.startMs + round * this.intervalMs + (slot * this.intervalMs) / this.nodes;
  }

  /** When the next beat is due. */
  get nextDueMs(): number {
    return this.dueAt(this.next);
  }

  /**
   * Hands every beat due at or before `nowMs` to `beat(node, dueMs)`, in order, and returns how
   * many there were. A late caller gets every beat it missed (the lateness is `nowMs − dueMs`);
   * the simulator reports that lateness instead of hiding it.
   */
  take(nowMs: number, beat: (node: number, dueMs: number) => void): number {
    let n = 0;
    for (let due = this.dueAt(this.next); due <= nowMs; due = this.dueAt(this.next)) {
      beat(this.next % this.nodes, due);
      this.next++;
      n++;
    }
    return n;
  }
}
