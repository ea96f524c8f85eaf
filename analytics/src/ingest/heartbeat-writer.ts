import type { PoolClient } from "pg";
import type { BatchWriter } from "./batch-writer";
import { copyInto, ensureStaging, storeRejects } from "./copy-writer";
import type { RejectedRecord } from "./copy-writer";
import { HEARTBEAT_COLUMNS, heartbeatLine } from "./heartbeat-row";

const STAGE = "hb_stage";
const STAGE_DDL = `
  time_ms bigint, group_name text, node_id text, seq bigint, sent_ms bigint,
  interval_ms integer, allowed_misses integer, uptime_ms bigint,
  leaving boolean, instance_id text, hostname text, service_name text, sdk_version text,
  config jsonb, config_full text, stream_seq bigint`;

// One statement: stage → heartbeats (duplicates skipped by (time, stream_seq)); an invalidation
// when rows land behind the rollup watermark; node_state for the nodes whose row is older than
// the resolution or whose process or config changed. At 10,000 nodes × 1 Hz nearly every beat of
// a batch is from a different node, so refreshing node_state on every beat would cost one UPDATE
// per row; with the resolution it costs one per node per resolution period. Rows are ordered by
// node so concurrent batches lock node_state rows in the same order. Nothing here depends on
// another batch, so batches may be written concurrently.
const INSERT_SQL = `
WITH st AS (
  SELECT *, to_timestamp(time_ms / 1000.0) AS time, to_timestamp(sent_ms / 1000.0) AS sent_at,
         time_ms - sent_ms AS latency_ms
    FROM ${STAGE}
), ins AS (
  INSERT INTO heartbeats (time, group_name, node_id, seq, sent_at, latency_ms, late,
                          interval_ms, uptime_ms, leaving, instance_id, config, stream_seq)
  SELECT time, group_name, node_id, seq, sent_at, latency_ms,
         COALESCE(latency_ms > interval_ms * $1::float8, false), COALESCE(interval_ms, 0),
         uptime_ms, leaving, instance_id, config, stream_seq
    FROM st
  ON CONFLICT DO NOTHING
  RETURNING time
), inval AS (
  INSERT INTO rollup_invalidations (lo, hi)
  SELECT min(time), max(time) FROM ins HAVING min(time) < $2::timestamptz
), latest AS (
  SELECT DISTINCT ON (group_name, node_id) *
    FROM st
   ORDER BY group_name, node_id, time DESC, stream_seq DESC
), changed AS (
  SELECT l.*, l.config_full::jsonb AS config_json
    FROM latest l
    LEFT JOIN node_state ns USING (group_name, node_id)
   WHERE ns.last_beat_at IS NULL
      OR ns.last_beat_at < l.time - $3::interval
      OR ns.instance_id IS DISTINCT FROM l.instance_id
      OR ns.interval_ms IS DISTINCT FROM l.interval_ms
      OR ns.config IS DISTINCT FROM l.config_full::jsonb
), up AS (
  INSERT INTO node_state (group_name, node_id, last_beat_at, last_sent_at, last_seq, instance_id,
                          interval_ms, allowed_misses, hostname, service_name, sdk_version, config)
  SELECT group_name, node_id, time, sent_at, seq, instance_id, interval_ms, allowed_misses,
         hostname, service_name, sdk_version, config_json
    FROM changed
   ORDER BY group_name, node_id
  ON CONFLICT (group_name, node_id) DO UPDATE SET
    last_beat_at = excluded.last_beat_at, last_sent_at = excluded.last_sent_at,
    last_seq = excluded.last_seq, instance_id = excluded.instance_id,
    interval_ms = excluded.interval_ms, allowed_misses = excluded.allowed_misses,
    hostname = excluded.hostname, service_name = excluded.service_name,
    sdk_version = excluded.sdk_version, config = excluded.config
  WHERE node_state.last_beat_at IS NULL OR node_state.last_beat_at <= excluded.last_beat_at
)
SELECT count(*)::integer AS inserted FROM ins`;

/** Writes heartbeats from `KON_HB`. */
export function heartbeatWriter(lateFactor: number, nodeStateResolutionMs: number): BatchWriter {
  return {
    kind: "heartbeats",
    line: heartbeatLine,
    async write(client: PoolClient, lines: string[], rejects: RejectedRecord[]): Promise<number> {
      await storeRejects(client, "heartbeats", rejects);
      if (lines.length === 0) return 0;
      await ensureStaging(client, STAGE, STAGE_DDL);
      await copyInto(client, STAGE, HEARTBEAT_COLUMNS, lines);
      // FOR SHARE: the rollup refresher (FOR UPDATE) cannot move the watermark under this batch.
      const wm = await client.query<{ watermark: Date | number }>(
        "SELECT watermark FROM rollup_state FOR SHARE",
      );
      // node-postgres reads -infinity as a number; hand it back as PostgreSQL spells it.
      const watermark = wm.rows[0]?.watermark;
      const res = await client.query<{ inserted: number }>(INSERT_SQL, [
        lateFactor,
        watermark instanceof Date ? watermark : "-infinity",
        `${nodeStateResolutionMs} milliseconds`,
      ]);
      return res.rows[0]?.inserted ?? 0;
    },
  };
}
