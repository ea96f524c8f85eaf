/** What a {@link ResponseCache} tells about the bodies it keeps (see AnswerBuffers). */
export interface BodyHolder {
  /** One more holder of `body` (a cache slot, a build, a response being sent). */
  hold(body: Buffer): void;
  /** One holder less. */
  release(body: Buffer): void;
}

interface Entry {
  readonly buf: Buffer;
  holders: number;
}

/**
 * Buffers of large answers (the whole node list: megabytes) that take turns: a buffer goes back
 * to the pool when nothing holds its answer any more — not the cache, not a build, not a response
 * still being written — and the next answer is written into it. Without it each fresh answer was
 * new external memory, and at a few MB per request V8 ran a scavenge every few requests
 * ("external memory pressure"). Answers under `minBytes` are plain allocations.
 *
 * A buffer whose holders reach zero is only put back at the next turn of the event loop
 * (setImmediate), after every continuation waiting for the answer has taken its hold.
 */
export class AnswerBuffers implements BodyHolder {
  private readonly free: Buffer[] = [];
  /** Buffers handed out, by their memory; weak, so one a holder never let go is still collected. */
  private readonly lent = new WeakMap<ArrayBufferLike, Entry>();
  /** Answers written into a buffer from the pool (for tests and metrics). */
  reused = 0;

  constructor(
    private readonly keep = 4,
    private readonly minBytes = 256 * 1024,
  ) {}

  /** A buffer of at least `size` bytes for an answer (see AnswerAlloc). */
  readonly alloc = (size: number): Buffer => {
    if (size < this.minBytes) return Buffer.allocUnsafe(size);
    const i = this.free.findIndex((b) => b.length >= size && b.length <= 2 * size);
    let buf: Buffer;
    if (i >= 0) {
      buf = this.free.splice(i, 1)[0]!;
      this.reused++;
    } else buf = Buffer.allocUnsafeSlow(Math.ceil(size * 1.125));
    this.lent.set(buf.buffer, { buf, holders: 0 });
    return buf;
  };

  hold(body: Buffer): void {
    const e = this.lent.get(body.buffer);
    if (e) e.holders++;
  }

  release(body: Buffer): void {
    const e = this.lent.get(body.buffer);
    if (!e) return;
    if (--e.holders > 0) return;
    setImmediate(() => {
      if (e.holders > 0 || this.lent.get(e.buf.buffer) !== e) return;
      this.lent.delete(e.buf.buffer);
      if (this.free.length < this.keep) this.free.push(e.buf);
    });
  }
}
