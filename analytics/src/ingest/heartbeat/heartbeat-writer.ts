import type { WireNames } from "@konorkestra/sdk/internal";
import type { PoolClient } from "pg";
import { copyBinaryInto } from "../../pg/binary-copy";
import { isUniqueViolation } from "../../pg/pg-errors";
import { ensureStaging } from "../../pg/staging-table";
import type { BatchWriter, WriteHints, WriteResult } from "../batch-writer";
import { storeRejects } from "../ingest-rejects";
import type { RejectedRecord } from "../ingest-rejects";
import type { StreamRecord } from "../stream-record";
import { HEARTBEAT_COLUMNS, HeartbeatTuples, tuplesPayload } from "./heartbeat-tuples";
import type { HeartbeatTuple } from "./heartbeat-tuples";
import { NodeStateGate, fullUpdate } from "./node-state-gate";
import type { NodeStateUpdate } from "./node-state-gate";
import { nodeStateRow, revisionsJson } from "./node-state-row";
import type { NodeStateRow } from "./node-state-row";

const STAGE = "hb_stage";
/** After a batch met rows already stored, write through the de-duplicating path this long. */
const DEDUPE_HOLD_MS = 30_000;

const DEDUPE_SQL = `
WITH ins AS (
  INSERT INTO heartbeats (${HEARTBEAT_COLUMNS.join(", ")})
  SELECT ${HEARTBEAT_COLUMNS.join(", ")} FROM ${STAGE}
  ON CONFLICT DO NOTHING
  RETURNING time
)
SELECT count(*)::integer AS n, min(time) AS lo, max(time) AS hi FROM ins`;

// node_state for the nodes the gate let through, newest beat first: the stored row is compared
// again (another instance may have written it), and a row is never moved back in time. Ordered
// by node so concurrent batches lock node_state rows in the same order.
const NODE_STATE_SQL = `
WITH l AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::int8[],
                       $6::text[], $7::int4[], $8::int4[], $9::text[], $10::text[], $11::text[],
                       $12::jsonb[])
    AS l(group_name, node_id, time_ms, sent_ms, seq, instance_id, interval_ms, allowed_misses,
         hostname, service_name, sdk_version, config)
), changed AS (
  SELECT l.*, to_timestamp(l.time_ms / 1000.0) AS time
    FROM l LEFT JOIN node_state ns USING (group_name, node_id)
   WHERE ns.last_beat_at IS NULL
      OR ns.last_beat_at < to_timestamp(l.time_ms / 1000.0) - $13::interval
      OR ns.instance_id IS DISTINCT FROM l.instance_id
      OR ns.interval_ms IS DISTINCT FROM l.interval_ms
      OR ns.config IS DISTINCT FROM l.config
)
INSERT INTO node_state (group_name, node_id, last_beat_at, last_sent_at, last_seq, instance_id,
                        interval_ms, allowed_misses, hostname, service_name, sdk_version, config)
SELECT group_name, node_id, time, to_timestamp(sent_ms / 1000.0), seq, instance_id, interval_ms,
       allowed_misses, hostname, service_name, sdk_version, config
  FROM changed
 ORDER BY group_name, node_id
ON CONFLICT (group_name, node_id) DO UPDATE SET
  last_beat_at = excluded.last_beat_at, last_sent_at = excluded.last_sent_at,
  last_seq = excluded.last_seq, instance_id = excluded.instance_id,
  interval_ms = excluded.interval_ms, allowed_misses = excluded.allowed_misses,
  hostname = excluded.hostname, service_name = excluded.service_name,
  sdk_version = excluded.sdk_version, config = excluded.config
WHERE node_state.last_beat_at IS NULL OR node_state.last_beat_at <= excluded.last_beat_at`;

// Only the beat moved: three columns, no config. A node_state row that is gone (deleted by hand)
// comes back from here without its process and config; those are returned and written in full.
const BEAT_SQL = `
WITH up AS (
  INSERT INTO node_state (group_name, node_id, last_beat_at, last_sent_at, last_seq)
  SELECT group_name, node_id, to_timestamp(time_ms / 1000.0), to_timestamp(sent_ms / 1000.0), seq
    FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::int8[])
      AS l(group_name, node_id, time_ms, sent_ms, seq)
   ORDER BY group_name, node_id
  ON CONFLICT (group_name, node_id) DO UPDATE SET
    last_beat_at = excluded.last_beat_at, last_sent_at = excluded.last_sent_at,
    last_seq = excluded.last_seq
  WHERE node_state.last_beat_at IS NULL OR node_state.last_beat_at <= excluded.last_beat_at
  RETURNING group_name, node_id, xmax = 0 AS inserted
)
SELECT group_name, node_id FROM up WHERE inserted`;

// Config sets first seen in a batch; another instance may be inserting the same ones.
const CONFIG_SETS_SQL = `
INSERT INTO config_sets (id, revisions)
SELECT * FROM unnest($1::int8[], $2::jsonb[]) ORDER BY 1
ON CONFLICT (id) DO NOTHING`;

/** Config set ids known to be stored; beyond this many the memory is dropped and rebuilt. */
const MAX_KNOWN_SETS = 100_000;

interface Stored {
  n: number;
  loMs: number;
  hiMs: number;
}

/**
 * Writes heartbeats from `KON_HB`. Each message becomes a binary COPY tuple as it arrives
 * (HeartbeatTuples: read off the protobuf wire, no message object); its config report is stored
 * by reference, `config_set`, to a `config_sets` row written once per distinct set of (key,
 * revision) pairs. The common case, a batch delivered for the first time, is one
 * binary COPY straight into the hypertable; its unique key (time, stream_seq) still guards it:
 * when the COPY meets a row already stored (a redelivery after a lost ack, a second durable
 * replaying the stream) it is rolled back to a savepoint and the batch goes through a staging
 * table with INSERT … ON CONFLICT DO NOTHING instead, as do batches with redelivered messages
 * and, for a while after such a conflict, every batch. Nothing here depends on another batch, so
 * batches may be written concurrently.
 */
export class HeartbeatWriter implements BatchWriter<HeartbeatTuple> {
  readonly kind = "heartbeats";
  private readonly gate: NodeStateGate;
  private readonly tuples: HeartbeatTuples;
  private readonly knownSets = new Set<number>([0]);
  private dedupeUntil = 0;

  constructor(
    names: WireNames,
    lateFactor: number,
    private readonly nodeStateResolutionMs: number,
  ) {
    this.gate = new NodeStateGate(nodeStateResolutionMs);
    this.tuples = new HeartbeatTuples(names, lateFactor);
  }

  row(rec: StreamRecord): HeartbeatTuple {
    return this.tuples.tuple(rec);
  }

  async write(
    client: PoolClient,
    rows: HeartbeatTuple[],
    rejects: RejectedRecord[],
    hints: WriteHints,
  ): Promise<WriteResult> {
    await storeRejects(client, "heartbeats", rejects);
    if (rows.length === 0) return { inserted: 0 };
    const newSets = await this.storeConfigSets(client, rows);
    const payload = tuplesPayload(rows);
    const stored =
      hints.redelivered || Date.now() < this.dedupeUntil
        ? await this.dedupe(client, payload)
        : await this.copyOrDedupe(client, payload, rows);
    // FOR SHARE: the rollup refresher (FOR UPDATE) cannot move the watermark under this batch.
    const wm = await client.query<{ watermark: Date | number }>(
      "SELECT watermark FROM rollup_state FOR SHARE",
    );
    const watermark = wm.rows[0]?.watermark;
    const watermarkMs = watermark instanceof Date ? watermark.getTime() : -Infinity;
    if (stored.n > 0 && stored.loMs < watermarkMs) {
      await client.query("INSERT INTO rollup_invalidations (lo, hi) VALUES ($1, $2)", [
        new Date(stored.loMs),
        new Date(stored.hiMs),
      ]);
    }
    const updates = this.gate.due(rows);
    if (updates.length > 0) await this.upsertNodeState(client, updates);
    return {
      inserted: stored.n,
      onCommit: () => {
        this.gate.remember(updates);
        if (this.knownSets.size > MAX_KNOWN_SETS) this.knownSets.clear();
        for (const id of newSets) this.knownSets.add(id);
      },
    };
  }

  /** Inserts the config sets of the batch not known to be stored yet; returns their ids. */
  private async storeConfigSets(client: PoolClient, rows: HeartbeatTuple[]): Promise<number[]> {
    const fresh = new Map<number, HeartbeatTuple>();
    for (const r of rows) {
      if (!this.knownSets.has(r.configSet) && !fresh.has(r.configSet)) fresh.set(r.configSet, r);
    }
    if (fresh.size === 0) return [];
    const ids = [...fresh.keys()];
    await client.query(CONFIG_SETS_SQL, [
      ids,
      ids.map((id) => revisionsJson(nodeStateRow(fresh.get(id)!).config)),
    ]);
    return ids;
  }

  private async copyOrDedupe(
    client: PoolClient,
    payload: Buffer,
    rows: HeartbeatTuple[],
  ): Promise<Stored> {
    await client.query("SAVEPOINT hb_copy");
    try {
      await copyBinaryInto(client, "heartbeats", HEARTBEAT_COLUMNS, payload);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await client.query("ROLLBACK TO SAVEPOINT hb_copy");
      this.dedupeUntil = Date.now() + DEDUPE_HOLD_MS;
      return this.dedupe(client, payload);
    }
    let loMs = Infinity;
    let hiMs = -Infinity;
    for (const r of rows) {
      if (r.timeMs < loMs) loMs = r.timeMs;
      if (r.timeMs > hiMs) hiMs = r.timeMs;
    }
    return { n: rows.length, loMs, hiMs };
  }

  private async dedupe(client: PoolClient, payload: Buffer): Promise<Stored> {
    await ensureStaging(client, STAGE, "LIKE heartbeats");
    await copyBinaryInto(client, STAGE, HEARTBEAT_COLUMNS, payload);
    const res = await client.query<{ n: number; lo: Date | null; hi: Date | null }>(DEDUPE_SQL);
    const r = res.rows[0];
    return {
      n: r?.n ?? 0,
      loMs: r?.lo?.getTime() ?? Infinity,
      hiMs: r?.hi?.getTime() ?? -Infinity,
    };
  }

  private async upsertNodeState(client: PoolClient, updates: NodeStateUpdate[]): Promise<void> {
    const full = updates.filter((u) => u.config !== null);
    const beats = updates.filter((u) => u.config === null);
    if (beats.length > 0) {
      const res = await client.query<{ group_name: string; node_id: string }>(BEAT_SQL, [
        beats.map((u) => u.row.group),
        beats.map((u) => u.row.node),
        beats.map((u) => u.row.timeMs),
        beats.map((u) => u.row.sentMs),
        beats.map((u) => u.row.seq),
      ]);
      const gone = new Set(res.rows.map((r) => `${r.group_name}\u0000${r.node_id}`));
      for (const u of beats) {
        if (gone.has(`${u.row.group}\u0000${u.row.node}`)) full.push(fullUpdate(u.tuple, u.key));
      }
    }
    if (full.length === 0) return;
    const rows = full.map((u) => u.full!);
    const col = <T>(f: (r: NodeStateRow) => T): T[] => rows.map(f);
    await client.query(NODE_STATE_SQL, [
      col((r) => r.group),
      col((r) => r.node),
      col((r) => r.timeMs),
      col((r) => r.sentMs),
      col((r) => r.seq),
      col((r) => r.instanceId),
      col((r) => r.intervalMs),
      col((r) => r.allowedMisses),
      col((r) => r.hostname),
      col((r) => r.serviceName),
      col((r) => r.sdkVersion),
      full.map((u) => u.config),
      `${this.nodeStateResolutionMs} milliseconds`,
    ]);
  }
}
