import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../logger";
import { envNumber } from "../options/env-readers";

/** Samples per estimate; the one with the shortest round trip wins (NTP's rule). */
const SAMPLES = 5;
/** Re-estimate this often: crystal drift is ~1-50 ppm, i.e. ≤ 3 ms per minute. */
const RESYNC_MS = 60_000;

/** Milliseconds since the epoch with sub-ms resolution (Date.now() is whole ms). */
export type Clock = () => number;

function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * This process's view of the NATS server's clock, for scheduled activation: `now()` is local
 * time plus an offset estimated from the server. Each estimate asks the server for the group
 * bucket's stream info, whose `ts` is the server's wall clock when it answered, and takes the
 * sample with the shortest round trip: offset = ts − (sent + received) / 2, wrong by at most half
 * that round trip (0.1-0.5 ms on a LAN). Every node that activates at an instant of the server's
 * clock then swaps together, whatever its own clock says.
 *
 * `KON_CLOCK_SKEW_MS` shifts the local clock of this process by that many ms; it exists for tests
 * that show the correction works (a process 3 s ahead still swaps at the instant).
 */
export class ServerClock {
  private offsetMs = 0;
  private bestRttMs = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private readonly local: Clock;
  private users = 0;
  private bestAtMs = 0;

  constructor(local: Clock = preciseNow, env: NodeJS.ProcessEnv = process.env) {
    const skew = envNumber(env, "KON_CLOCK_SKEW_MS");
    const shift = skew !== undefined && Number.isFinite(skew) ? skew : 0;
    this.local = shift === 0 ? local : () => local() + shift;
  }

  /** The server's time now, as well as this process knows it (ms since the epoch, fractional). */
  now(): number {
    return this.local() + this.offsetMs;
  }

  /** Server minus local clock, in ms (0 until the first estimate). */
  get offset(): number {
    return this.offsetMs;
  }

  /** Round trip of the sample the offset comes from (Infinity before the first estimate). */
  get uncertaintyMs(): number {
    return this.bestRttMs / 2;
  }

  /** Estimates the offset now, then again every minute until stop(). Never throws. */
  async start(nc: NatsConnection, stream: string, logger: Logger): Promise<void> {
    this.users++;
    await this.estimate(nc, stream, logger);
    this.timer ??= setInterval(() => void this.estimate(nc, stream, logger), RESYNC_MS);
    this.timer.unref();
  }

  /** One user fewer; the re-estimates stop with the last one. */
  stop(): void {
    if (this.users > 0) this.users--;
    if (this.users > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async estimate(nc: NatsConnection, stream: string, logger: Logger): Promise<void> {
    try {
      const jsm = await jetstreamManager(nc);
      let best: { rtt: number; offset: number } | undefined;
      for (let i = 0; i < SAMPLES; i++) {
        const sent = this.local();
        const info = await jsm.streams.info(stream);
        const received = this.local();
        const server = info.ts ? parseRfc3339(info.ts) : Number.NaN;
        if (!Number.isFinite(server)) return;
        const rtt = received - sent;
        if (!best || rtt < best.rtt) best = { rtt, offset: server - (sent + received) / 2 };
      }
      if (!best) return;
      // Several connections of a process feed one clock: a sample with a shorter round trip is
      // more exact, so it wins unless the one kept is older than two estimate periods.
      const at = this.local();
      if (best.rtt > this.bestRttMs && at - this.bestAtMs < 2 * RESYNC_MS) return;
      this.offsetMs = best.offset;
      this.bestRttMs = best.rtt;
      this.bestAtMs = at;
      if (Math.abs(best.offset) > 1000) {
        logger.warn(
          `this host's clock is ${(best.offset / 1000).toFixed(3)} s off the NATS server's; scheduled config changes follow the server's clock`,
        );
      }
    } catch (err) {
      if (!nc.isClosed()) logger.warn(`cannot read the NATS server's clock: ${String(err)}`);
    }
  }
}

/** RFC 3339 with up to nanosecond fractions (`2026-12-04T07:40:11.123456789Z`) → fractional ms. */
export function parseRfc3339(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return Number.NaN;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + frac;
}

let processClock: ServerClock | undefined;

/**
 * The clock every connection of this process times scheduled values by. One estimate per host,
 * not per connection: a swap meant for one instant must not differ between two connections of
 * one process by their estimates' errors.
 */
export function processServerClock(): ServerClock {
  processClock ??= new ServerClock();
  return processClock;
}
