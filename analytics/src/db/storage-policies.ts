import type { Pool } from "pg";

/** Which TimescaleDB features the server offers, and how retention and compression are done. */
export interface StorageInfo {
  /** `timescaledb.license`: `apache` (Debian's build: no policies, no compression) or `timescale`. */
  edition: string;
  /** `timescaledb` when background policies run retention; `service` when this service drops chunks. */
  retention: "timescaledb" | "service";
  /** True when raw chunks are compressed (columnstore) by a policy. */
  compression: boolean;
}

/** Settings of {@link applyStoragePolicies}; intervals in PostgreSQL syntax (`7 days`). */
export interface StoragePolicyOptions {
  heartbeatChunkInterval: string;
  eventChunkInterval: string;
  rollupChunkInterval: string;
  rawRetention: string;
  eventRetention: string;
  /** Retention of `config_events` (whose chunks use eventChunkInterval). */
  configEventRetention: string;
  aggregateRetention: string;
  /** `off` or an interval. */
  compressAfter: string;
  /** Whether `heartbeats_node_time` (group, node, time) exists. */
  heartbeatNodeIndex: boolean;
}

const HYPERTABLES = [
  ["heartbeats", "heartbeatChunkInterval", "rawRetention"],
  ["node_events", "eventChunkInterval", "eventRetention"],
  ["config_events", "eventChunkInterval", "configEventRetention"],
  ["heartbeats_1m_store", "rollupChunkInterval", "aggregateRetention"],
] as const;

/**
 * Applies chunk intervals (for new chunks), retention, compression and the optional per-node
 * heartbeat index from the options at every
 * start, so changing an option needs no migration. With the `timescale` license these become
 * TimescaleDB background policies; under the Apache license (which Debian ships) policies and
 * compression do not exist, so the service's maintenance loop drops old chunks itself
 * ({@link dropExpiredChunks}) and compression is reported as unavailable.
 */
export async function applyStoragePolicies(
  pool: Pool,
  opts: StoragePolicyOptions,
): Promise<StorageInfo> {
  const lic = await pool.query<{ license: string | null }>(
    "SELECT current_setting('timescaledb.license', true) AS license",
  );
  const edition = lic.rows[0]?.license ?? "apache";
  // On a hypertable, CREATE INDEX builds the index on every chunk: slow on a large table, once.
  await pool.query(
    opts.heartbeatNodeIndex
      ? "CREATE INDEX IF NOT EXISTS heartbeats_node_time ON heartbeats (group_name, node_id, time DESC)"
      : "DROP INDEX IF EXISTS heartbeats_node_time",
  );
  for (const [table, chunkKey] of HYPERTABLES) {
    await pool.query(`SELECT set_chunk_time_interval($1::regclass, $2::interval)`, [
      table,
      opts[chunkKey],
    ]);
  }
  if (edition !== "timescale") return { edition, retention: "service", compression: false };

  // Not exercised by the test suite: the provisioned (Debian) TimescaleDB is Apache-licensed.
  for (const [table, , retentionKey] of HYPERTABLES) {
    await pool.query(`SELECT remove_retention_policy($1::regclass, if_exists => true)`, [table]);
    await pool.query(`SELECT add_retention_policy($1::regclass, drop_after => $2::interval)`, [
      table,
      opts[retentionKey],
    ]);
  }
  await pool.query(`SELECT remove_compression_policy('heartbeats', if_exists => true)`);
  if (opts.compressAfter === "off")
    return { edition, retention: "timescaledb", compression: false };
  await pool.query(
    `ALTER TABLE heartbeats SET (timescaledb.compress,
       timescaledb.compress_segmentby = 'group_name, node_id',
       timescaledb.compress_orderby = 'time DESC')`,
  );
  await pool.query(`SELECT add_compression_policy('heartbeats', compress_after => $1::interval)`, [
    opts.compressAfter,
  ]);
  return { edition, retention: "timescaledb", compression: true };
}

/** Drops chunks older than each table's retention (the Apache-license stand-in for policies). */
export async function dropExpiredChunks(pool: Pool, opts: StoragePolicyOptions): Promise<number> {
  let dropped = 0;
  for (const [table, , retentionKey] of HYPERTABLES) {
    const res = await pool.query(
      `SELECT drop_chunks($1::regclass, older_than => now() - $2::interval)`,
      [table, opts[retentionKey]],
    );
    dropped += res.rowCount ?? 0;
  }
  return dropped;
}
