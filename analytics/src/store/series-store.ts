import type { Pool } from "pg";
import type { SeriesBucket, SeriesPoint } from "../model/heartbeat-series";

/** The bucket widths as PostgreSQL intervals. */
const INTERVALS: Record<SeriesBucket, string> = {
  "1m": "1 minute",
  "5m": "5 minutes",
  "15m": "15 minutes",
  "1h": "1 hour",
  "1d": "1 day",
};

/** Reads the per-node-per-minute rollup (`heartbeats_1m`: materialized part + real-time tail). */
export class SeriesStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Beats, late beats, latency and clock skew per bucket. Latency is receive time (NATS server
   * clock) minus send time (node clock), so it includes the node's clock offset. For one node and
   * 1-minute buckets p50/p99 are exact; wider buckets or several nodes combine per-minute figures:
   * p50 = beat-weighted mean of the minutes' medians, p99 = the highest minute p99 (an upper
   * bound). Clock skew per node-minute is the smallest (receive − send) seen, i.e. offset plus
   * the fastest delivery; per point, the value furthest from zero.
   */
  async heartbeats(
    filter: { group?: string; node?: string },
    bucket: SeriesBucket,
    fromMs: number,
    toMs: number,
  ): Promise<SeriesPoint[]> {
    const res = await this.pool.query<{
      t: Date;
      beats: number;
      late: number;
      nodes: number;
      p50: number | null;
      p99: number | null;
      skew: number | null;
    }>(
      `SELECT time_bucket($1::interval, bucket) AS t,
              sum(beats)::int AS beats, sum(late_beats)::int AS late,
              count(DISTINCT (group_name, node_id))::int AS nodes,
              (sum(latency_p50_ms * beats) / NULLIF(sum(beats), 0))::float8 AS p50,
              max(latency_p99_ms)::float8 AS p99,
              ((array_agg(offset_min_ms ORDER BY abs(offset_min_ms) DESC))[1])::float8 AS skew
         FROM heartbeats_1m
        WHERE bucket >= $2 AND bucket < $3
          AND ($4::text IS NULL OR group_name = $4) AND ($5::text IS NULL OR node_id = $5)
        GROUP BY 1 ORDER BY 1`,
      [
        INTERVALS[bucket],
        new Date(fromMs),
        new Date(toMs),
        filter.group ?? null,
        filter.node ?? null,
      ],
    );
    return res.rows.map((r) => ({
      tMs: r.t.getTime(),
      beats: r.beats,
      lateBeats: r.late,
      nodes: r.nodes,
      latencyP50Ms: r.p50,
      latencyP99Ms: r.p99,
      clockSkewMs: r.skew,
    }));
  }
}
