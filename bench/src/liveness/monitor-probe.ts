import type { JetStreamManager } from "@nats-io/jetstream";

/** How the monitor kept up during a row, sampled from outside. */
export interface MonitorHealth {
  readonly samples: number;
  /** Share of samples with `kon_monitor_consumer_current` = 1. */
  readonly currentShare: number;
  /** Largest `kon_monitor_clock_lag_ms` (detection clock behind server time). */
  readonly maxClockLagMs: number;
  /** Largest number of heartbeats KON_HB held that the server had not yet delivered to it. */
  readonly maxBacklog: number;
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Samples the monitor twice a second (over the measured window): its /metrics (is its heartbeat consumer current, how far
 * its detection clock lags) and its durable consumer on KON_HB (how many heartbeats wait). A
 * monitor that cannot keep up judges deadlines late by design; this says whether it did.
 */
export class MonitorProbe {
  private timer: NodeJS.Timeout | undefined;
  private samples = 0;
  private current = 0;
  private maxClockLagMs = 0;
  private maxBacklog = 0;
  private busy = false;

  constructor(
    private readonly url: string,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly consumer: string,
    /** Sent with every /metrics request (the monitor wants a `read` token). */
    private readonly headers: Record<string, string> = {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), 500);
    this.timer.unref();
  }

  stop(): MonitorHealth {
    clearInterval(this.timer);
    return {
      samples: this.samples,
      currentShare: this.samples > 0 ? this.current / this.samples : NaN,
      maxClockLagMs: this.maxClockLagMs,
      maxBacklog: this.maxBacklog,
    };
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [metrics, info] = await Promise.all([
        fetch(`${this.url}/metrics`, { headers: this.headers }).then(async (r) => {
          // An answer that is not the metrics (401, 503) is no sample, not a "behind" one.
          if (!r.ok) throw new Error(`/metrics answered ${r.status}`);
          return r.text();
        }),
        this.jsm.consumers.info(this.stream, this.consumer),
      ]);
      this.samples++;
      if (gauge(metrics, "kon_monitor_consumer_current") === 1) this.current++;
      const lag = gauge(metrics, "kon_monitor_clock_lag_ms") ?? 0;
      if (lag > this.maxClockLagMs) this.maxClockLagMs = lag;
      if (info.num_pending > this.maxBacklog) this.maxBacklog = info.num_pending;
    } catch {
      // A sample lost to a busy moment is not worth a line of output.
    } finally {
      this.busy = false;
    }
  }
}
