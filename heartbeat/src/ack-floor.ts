/**
 * Which message an AckAll may name: the newest one done with nothing unfinished before it (an ack
 * covers every earlier message, so one still waiting for a look-up must not be passed). `T` is
 * what the ack is sent with (the message's ack subject).
 */
export class AckFloor<T> {
  /** Stream sequences of messages not yet done (waiting, or behind one that waits). */
  private readonly held = new Set<number>();
  private floor = Infinity;
  /** Done above the floor, by arrival; moved to `last` when the floor passes them. */
  private doneAbove: { seq: number; msg: T }[] = [];
  private last: T | undefined;
  private lastSeq = 0;
  private count = 0;

  hold(seq: number): void {
    if (this.held.has(seq)) return;
    this.held.add(seq);
    if (seq < this.floor) this.floor = seq;
  }

  /** Marks a message done; returns how many are done and not yet acknowledged. */
  done(seq: number, msg: T): number {
    if (this.held.size > 0 && this.held.delete(seq) && seq === this.floor) this.raiseFloor();
    this.count += 1;
    if (seq < this.floor) this.advance(seq, msg);
    else this.doneAbove.push({ seq, msg });
    return this.count;
  }

  /** The message to acknowledge now, if any. */
  take(): T | undefined {
    if (this.last === undefined || this.count === 0) return undefined;
    const m = this.last;
    this.count = 0;
    this.last = undefined;
    return m;
  }

  private advance(seq: number, msg: T): void {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      this.last = msg;
    }
  }

  private raiseFloor(): void {
    this.floor = Infinity;
    for (const s of this.held) if (s < this.floor) this.floor = s;
    const keep: { seq: number; msg: T }[] = [];
    for (const d of this.doneAbove) {
      if (d.seq < this.floor) this.advance(d.seq, d.msg);
      else keep.push(d);
    }
    // Messages now below the floor count as done-and-unacknowledged, even after a take().
    if (keep.length < this.doneAbove.length) this.count = Math.max(this.count, 1);
    this.doneAbove = keep;
  }
}
