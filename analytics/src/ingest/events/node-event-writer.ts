import type { WireNames } from "@konorkestra/sdk/internal";
import type { PoolClient } from "pg";
import { copyInto } from "../../pg/copy-text";
import { ensureStaging } from "../../pg/staging-table";
import type { BatchWriter, WriteResult } from "../batch-writer";
import { storeRejects } from "../ingest-rejects";
import type { RejectedRecord } from "../ingest-rejects";
import { NODE_EVENT_COLUMNS, nodeEventLine } from "./node-event-row";

const STAGE = "evt_stage";
const STAGE_DDL = `
  time timestamptz, event_id text, group_name text, node_id text, kind text,
  last_seen_at timestamptz, last_seen_trusted boolean, last_seq bigint, reason text, suspect boolean, monitor_id text,
  stream_seq bigint, received_at timestamptz`;

// A down whose last-seen time the monitor could only guess (the last beat had no sent_at_ms)
// begins at the last beat analytics stored for the node before the detection, if it has one: a
// guess would shift the incident's start by a whole TTL.
const LAST_SEEN = `CASE WHEN s.last_seen_trusted OR s.kind <> 'down' THEN s.last_seen_at
  ELSE COALESCE((SELECT ns.last_beat_at FROM node_state ns
                  WHERE ns.group_name = s.group_name AND ns.node_id = s.node_id
                    AND ns.last_beat_at <= s.time), s.last_seen_at) END`;

// Events are stored once by (event_id, time). node_state takes the newest status event per node
// unless it already holds a newer one (events may arrive out of order: redelivery, several
// monitors); status_since only moves when the status actually changes. FLAPPING only stamps
// flapping_at. One upsert per node, ordered, as for heartbeats.
const INSERT_SQL = `
WITH ins AS (
  INSERT INTO node_events (time, event_id, group_name, node_id, kind, last_seen_at, last_seq,
                           reason, suspect, monitor_id, stream_seq, received_at)
  SELECT time, event_id, group_name, node_id, kind, ${LAST_SEEN}, last_seq, reason, suspect,
         monitor_id, stream_seq, received_at
    FROM ${STAGE} s
  ON CONFLICT DO NOTHING
  RETURNING 1
), per_node AS (
  SELECT group_name, node_id,
         (array_agg(kind ORDER BY time DESC, stream_seq DESC)
            FILTER (WHERE kind <> 'flapping'))[1] AS status,
         max(time) FILTER (WHERE kind <> 'flapping') AS status_at,
         (array_agg(event_id ORDER BY time DESC, stream_seq DESC)
            FILTER (WHERE kind <> 'flapping'))[1] AS event_id,
         (array_agg(suspect ORDER BY time DESC, stream_seq DESC)
            FILTER (WHERE kind <> 'flapping'))[1] AS suspect,
         max(time) FILTER (WHERE kind = 'flapping') AS flapping_at
    FROM ${STAGE}
   GROUP BY group_name, node_id
), up AS (
  INSERT INTO node_state AS ns (group_name, node_id, status, status_since, status_at,
                                status_event_id, suspect, flapping_at)
  SELECT group_name, node_id, COALESCE(status, 'unknown'), status_at, status_at, event_id,
         COALESCE(suspect, false), flapping_at
    FROM per_node
   ORDER BY group_name, node_id
  ON CONFLICT (group_name, node_id) DO UPDATE SET
    status = CASE WHEN ${newer()} THEN excluded.status ELSE ns.status END,
    status_since = CASE
      WHEN NOT ${newer()} THEN ns.status_since
      WHEN ns.status = excluded.status THEN COALESCE(ns.status_since, excluded.status_since)
      ELSE excluded.status_since END,
    status_at = CASE WHEN ${newer()} THEN excluded.status_at ELSE ns.status_at END,
    status_event_id = CASE WHEN ${newer()} THEN excluded.status_event_id
                           ELSE ns.status_event_id END,
    suspect = CASE WHEN ${newer()} THEN excluded.suspect ELSE ns.suspect END,
    flapping_at = GREATEST(ns.flapping_at, excluded.flapping_at)
)
SELECT count(*)::integer AS inserted FROM ins`;

function newer(): string {
  return "(excluded.status_at IS NOT NULL AND (ns.status_at IS NULL OR ns.status_at <= excluded.status_at))";
}

/** Writes node events from `KON_EVENTS` (COPY text lines; events are few, so no fast path). */
export function nodeEventWriter(names: WireNames): BatchWriter<string> {
  return {
    kind: "events",
    row: (rec) => nodeEventLine(names, rec),
    async write(
      client: PoolClient,
      lines: string[],
      rejects: RejectedRecord[],
    ): Promise<WriteResult> {
      await storeRejects(client, "events", rejects);
      if (lines.length === 0) return { inserted: 0 };
      await ensureStaging(client, STAGE, STAGE_DDL);
      await copyInto(client, STAGE, NODE_EVENT_COLUMNS, lines);
      const res = await client.query<{ inserted: number }>(INSERT_SQL);
      return { inserted: res.rows[0]?.inserted ?? 0 };
    },
  };
}
