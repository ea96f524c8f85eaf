import type { Pool, PoolClient } from "pg";

/** What one refresh did. */
export interface RefreshResult {
  /** False when another instance held the refresh lock. */
  ran: boolean;
  watermark?: Date;
  /** [from, to) ranges of minutes recomputed. */
  ranges: { from: Date; to: Date }[];
}

const MINUTE_MS = 60_000;

// Recompute whole minutes from raw rows: the same definition as the real-time part of the
// heartbeats_1m view, so the two halves agree.
const MATERIALIZE_SQL = `
INSERT INTO heartbeats_1m_store (bucket, group_name, node_id, beats, late_beats, latency_p50_ms,
                                 latency_p99_ms, latency_avg_ms, offset_min_ms)
SELECT time_bucket(INTERVAL '1 minute', time), group_name, node_id, count(*),
       count(*) FILTER (WHERE late),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms),
       avg(latency_ms), min(latency_ms)
  FROM heartbeats
 WHERE time >= $1 AND time < $2
 GROUP BY 1, 2, 3`;

/**
 * Materializes the per-node-per-minute rollup, as a TimescaleDB continuous aggregate's refresh
 * policy would: every complete minute older than `lagMs` is computed once, and minutes that
 * received rows after they were materialized (listed in rollup_invalidations by the ingest) are
 * recomputed. One instance at a time (advisory lock).
 */
export async function refreshRollup(
  pool: Pool,
  lagMs: number,
  now = Date.now(),
): Promise<RefreshResult> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // One refresher at a time; ingest batches hold rollup_state FOR SHARE, so FOR UPDATE waits
    // for the batches in flight and holds new ones back until the watermark has moved.
    const mine = await client.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('kon_analytics_rollup')) AS ok",
    );
    if (!mine.rows[0]?.ok) {
      await client.query("ROLLBACK");
      return { ran: false, ranges: [] };
    }
    await client.query("SET LOCAL lock_timeout = '10s'");
    const locked = await client.query<{ watermark: Date | number }>(
      "SELECT watermark FROM rollup_state FOR UPDATE",
    );
    const old = timeMs(locked.rows[0]!.watermark);
    const target = Math.floor((now - lagMs) / MINUTE_MS) * MINUTE_MS;
    const ranges = await pendingRanges(client, old, target);
    for (const r of ranges) {
      await client.query("DELETE FROM heartbeats_1m_store WHERE bucket >= $1 AND bucket < $2", [
        r.from,
        r.to,
      ]);
      await client.query(MATERIALIZE_SQL, [r.from, r.to]);
    }
    const watermark = Math.max(target, old);
    if (watermark > old) {
      await client.query("UPDATE rollup_state SET watermark = $1", [new Date(watermark)]);
    }
    await client.query("COMMIT");
    return { ran: true, watermark: new Date(watermark), ranges };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function pendingRanges(
  client: PoolClient,
  old: number,
  target: number,
): Promise<{ from: Date; to: Date }[]> {
  const ranges: { from: Date; to: Date }[] = [];
  const inval = await client.query<{ lo: Date; hi: Date }>(
    "DELETE FROM rollup_invalidations RETURNING lo, hi",
  );
  for (const { lo, hi } of inval.rows) {
    const from = floorMinute(lo.getTime());
    const to = Math.min(floorMinute(hi.getTime()) + MINUTE_MS, old);
    if (from < to) ranges.push({ from: new Date(from), to: new Date(to) });
  }
  if (target > old) {
    // First refresh: start at the oldest raw row rather than at -infinity.
    let from = old;
    if (!Number.isFinite(old)) {
      const first = await client.query<{ t: Date | null }>("SELECT min(time) AS t FROM heartbeats");
      from = first.rows[0]?.t ? floorMinute(first.rows[0].t.getTime()) : target;
    }
    if (from < target) ranges.push({ from: new Date(from), to: new Date(target) });
  }
  return mergeRanges(ranges);
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** node-postgres returns ±infinity timestamps as ±Infinity numbers, others as Dates. */
export function timeMs(v: Date | number): number {
  return typeof v === "number" ? v : v.getTime();
}

/** Sorts and merges overlapping or touching ranges. */
export function mergeRanges(ranges: { from: Date; to: Date }[]): { from: Date; to: Date }[] {
  const sorted = [...ranges].sort((a, b) => a.from.getTime() - b.from.getTime());
  const out: { from: Date; to: Date }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to) {
      if (r.to > last.to) last.to = r.to;
    } else {
      out.push({ from: r.from, to: r.to });
    }
  }
  return out;
}
