import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "@konorkestra/sdk";
import type { MonitorMetrics } from "./metrics";

/** At or above this share of `max_bytes`, a stream is dropping its oldest messages early. */
const FULL_SHARE = 0.95;

/**
 * Watches the byte caps of the streams the monitor depends on (KON_HB, KON_EVENTS): bytes and
 * cap as gauges, and when a stream is at its cap (old messages go before their age) a count of
 * `kon_monitor_capped_total{cap="stream_bytes"}` and a warning, so the cap biting is visible.
 */
export class StreamUsage {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly streams: readonly string[],
    private readonly metrics: MonitorMetrics,
    private readonly logger: Logger,
  ) {}

  start(everyMs = 15_000): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    for (const stream of this.streams) {
      try {
        const info = await this.jsm.streams.info(stream);
        const max = info.config.max_bytes;
        this.metrics.streamBytes.set({ stream }, info.state.bytes);
        this.metrics.streamMaxBytes.set({ stream }, max);
        if (max > 0 && info.state.bytes >= FULL_SHARE * max) {
          this.metrics.capped.inc({ cap: "stream_bytes" });
          this.logger.warn(
            `stream ${stream} holds ${info.state.bytes} of its ${max} bytes: its oldest ` +
              `messages are dropped before their age; raise its max_bytes or find the flood`,
          );
        }
      } catch (err) {
        this.logger.warn(`cannot read the limits of stream ${stream}: ${String(err)}`);
      }
    }
  }
}
