/** How long one offset sample counts towards the minimum. */
const SAMPLE_WINDOW_MS = 30_000;

/**
 * The clock deadlines are judged by, in the NATS server's time.
 *
 * - While this monitor's heartbeat consumer is current, it is the wall clock shifted by the
 *   smallest observed `local receive time − server timestamp` (clock skew plus the fastest
 *   delivery), so it never runs ahead of the server: a fast local clock cannot declare a node
 *   down early.
 * - While the consumer is behind (a backlog after a restart) or NATS is unreachable, it is the
 *   watermark: the server timestamp of the newest heartbeat processed. A monitor that cannot see
 *   heartbeats therefore cannot see deadlines pass either, and a replayed backlog is judged in
 *   the order and at the times the heartbeats reached the server.
 */
export class DetectionClock {
  private watermark = 0;
  private current = false;
  private connected = true;
  private minNow = Number.POSITIVE_INFINITY;
  private minPrev = Number.POSITIVE_INFINITY;
  private windowStart: number;
  /** Last known offset, kept through quiet periods with no live samples. */
  private lastOffset = 0;

  constructor(private readonly localNow: () => number = Date.now) {
    this.windowStart = localNow();
  }

  /** Server timestamp of the newest heartbeat processed. */
  get watermarkMs(): number {
    return this.watermark;
  }

  /** True when the consumer is caught up and connected: deadlines may be judged by the clock. */
  get isCurrent(): boolean {
    return this.current && this.connected;
  }

  /**
   * Records a processed heartbeat.
   * @param pending messages the server still had for the consumer after this one
   */
  observe(serverTsMs: number, pending: number): void {
    if (serverTsMs > this.watermark) this.watermark = serverTsMs;
    this.current = pending === 0;
    // Only live deliveries say something about skew and latency; a backlog's delay is history.
    if (pending === 0) this.sample(this.localNow() - serverTsMs);
  }

  /** The consumer reported it has nothing pending (checked while idle). */
  markCaughtUp(): void {
    this.current = true;
  }

  /** The consumer may be behind (missed heartbeats, reset, reconnect). */
  markBehind(): void {
    this.current = false;
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
    if (!connected) this.current = false;
  }

  /** Estimate of the server's time now, whatever the consumer's state. */
  wallMs(): number {
    return this.localNow() - this.offset();
  }

  /** The detection clock: see the class comment. */
  nowMs(): number {
    return this.isCurrent ? Math.max(this.watermark, this.wallMs()) : this.watermark;
  }

  private offset(): number {
    this.rotate();
    const m = Math.min(this.minNow, this.minPrev);
    if (Number.isFinite(m)) this.lastOffset = m;
    return this.lastOffset;
  }

  private sample(offsetMs: number): void {
    this.rotate();
    if (offsetMs < this.minNow) this.minNow = offsetMs;
  }

  /** Two half-windows: the minimum forgets old samples without storing them all. */
  private rotate(): void {
    const now = this.localNow();
    if (now - this.windowStart < SAMPLE_WINDOW_MS) return;
    this.minPrev =
      now - this.windowStart < 2 * SAMPLE_WINDOW_MS ? this.minNow : Number.POSITIVE_INFINITY;
    this.minNow = Number.POSITIVE_INFINITY;
    this.windowStart = now;
  }
}
