import { performance } from "node:perf_hooks";
import type { NatsConnection } from "@nats-io/transport-node";
import { Client } from "pg";
import type { AnalyticsProcess } from "../ingest/analytics-process";
import { LagProbe } from "../ingest/lag-probe";
import { percentiles } from "../ingest/percentiles";
import type { Percentiles } from "../ingest/percentiles";

/** What the analytics instances did in the measured window and after it. */
export interface IngestFigures {
  /** Heartbeat rows committed in the window, per instance (by each one's own counter). */
  readonly rowsPerInstance: readonly number[];
  readonly rowsPerSec: number;
  /** Probe heartbeat → row visible in `heartbeats`, ms (upper bounds by one 10 ms poll). */
  readonly lag: Percentiles;
  /** Probes never seen within the settle time. */
  readonly lagUnseen: number;
  /** Rows in `heartbeats` at the end, and distinct (group, node, seq) among them. */
  readonly rowsInTable: number;
  readonly distinctRows: number;
  /** Heartbeats KON_HB stored over the whole run (what the table must hold). */
  readonly stored: number;
  /** Seconds after the last beat until the table held every stored heartbeat (NaN: never). */
  readonly catchUpS: number;
}

const PROBES_PER_SEC = 4;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The ingest side of a scale-out run: a few probe heartbeats a second (the ingest benchmark's
 * {@link LagProbe}) for the lag, the instances' committed-row counters for throughput and the
 * split between them, and at the end the table counted against the stream.
 */
export class IngestMeter {
  private timer: NodeJS.Timeout | undefined;
  private rows0: number[] = [];
  private rows1: number[] = [];
  private wall0 = 0;
  private wallS = 0;
  private probesSent = 0;

  private constructor(
    private readonly probe: LagProbe,
    private readonly nc: NatsConnection,
    private readonly analytics: readonly AnalyticsProcess[],
    private readonly pgUrl: string,
  ) {}

  static async open(
    nc: NatsConnection,
    analytics: readonly AnalyticsProcess[],
    pgUrl: string,
  ): Promise<IngestMeter> {
    return new IngestMeter(await LagProbe.open(pgUrl), nc, analytics, pgUrl);
  }

  /** Probe heartbeats published so far (KON_HB holds them beside the fleet's). */
  get probes(): number {
    return this.probesSent;
  }

  /** The measured window starts: counters read, probes begin. */
  async start(): Promise<void> {
    this.rows0 = await this.counters();
    this.wall0 = performance.now();
    this.probe.start();
    this.timer = setInterval(() => {
      const p = this.probe.next();
      this.nc.publish(p.subject, p.data);
      this.probesSent++;
    }, 1000 / PROBES_PER_SEC);
  }

  /** The window ends (probes stop; rows committed so far are the window's). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.wallS = (performance.now() - this.wall0) / 1000;
    this.rows1 = await this.counters();
  }

  /** Waits (bounded) until the table holds `stored` rows, then counts it. */
  async finish(stored: number, timeoutMs: number): Promise<IngestFigures> {
    const t0 = performance.now();
    let catchUpS = NaN;
    while (performance.now() - t0 < timeoutMs) {
      const total = (await this.counters()).reduce((a, b) => a + b, 0);
      if (total >= stored) {
        catchUpS = (performance.now() - t0) / 1000;
        break;
      }
      await sleep(200);
    }
    await this.probe.settle(5000);
    const lags = this.probe.take();
    const unseen = this.probe.unseen;
    await this.probe.close();
    const { rows, distinct } = await this.countTable();
    const perInstance = this.rows1.map((r, i) => r - (this.rows0[i] ?? 0));
    return {
      rowsPerInstance: perInstance,
      rowsPerSec: perInstance.reduce((a, b) => a + b, 0) / (this.wallS || NaN),
      lag: percentiles(lags),
      lagUnseen: unseen,
      rowsInTable: rows,
      distinctRows: distinct,
      stored,
      catchUpS,
    };
  }

  /** Closes the probe's connection if `finish` never ran. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.probe.close().catch(() => undefined);
  }

  private counters(): Promise<number[]> {
    return Promise.all(this.analytics.map((a) => a.heartbeatRows().catch(() => NaN)));
  }

  private async countTable(): Promise<{ rows: number; distinct: number }> {
    const c = new Client({ connectionString: this.pgUrl });
    await c.connect();
    try {
      const r = await c.query<{ rows: string; distinct: string }>(
        `SELECT count(*) AS rows,
                count(DISTINCT (group_name, node_id, seq)) AS distinct FROM heartbeats`,
      );
      return { rows: Number(r.rows[0]?.rows), distinct: Number(r.rows[0]?.distinct) };
    } finally {
      await c.end();
    }
  }
}
