// Analytics schema: raw hypertables, current node state, the per-node-per-minute rollup.
// Plain CommonJS so node-pg-migrate loads it the same way from a checkout and from a build.
// Chunk intervals, retention and compression are applied at every start from the service's
// options (src/db/storage-policies.ts); the values here are only the initial defaults.

function up(pgm) {
  pgm.sql(`CREATE EXTENSION IF NOT EXISTS timescaledb`);

  // One row per heartbeat. time = when the NATS server stored it (stream timestamp, the server's
  // clock, identical on every redelivery), so (time, stream_seq) is a stable unique key; it also
  // serves time-range scans, so the default time index is not created (one index less to
  // maintain per row at 100,000 rows/s).
  pgm.sql(`
    CREATE TABLE heartbeats (
      time         timestamptz NOT NULL,
      group_name   text        NOT NULL,
      node_id      text        NOT NULL,
      seq          bigint      NOT NULL,
      sent_at      timestamptz NOT NULL,
      latency_ms   real        NOT NULL,
      late         boolean     NOT NULL DEFAULT false,
      interval_ms  integer     NOT NULL,
      uptime_ms    bigint      NOT NULL,
      leaving      boolean     NOT NULL DEFAULT false,
      instance_id  text        NOT NULL,
      config       jsonb       NOT NULL DEFAULT '{}'::jsonb,
      stream_seq   bigint      NOT NULL,
      UNIQUE (time, stream_seq)
    )`);
  pgm.sql(
    `SELECT create_hypertable('heartbeats', by_range('time', INTERVAL '1 hour'),
                              create_default_indexes => false)`,
  );
  pgm.sql(`CREATE INDEX heartbeats_node_time ON heartbeats (group_name, node_id, time DESC)`);

  // One row per NodeEvent. time = detected_at_ms; event_id is the monitor's de-duplication id.
  pgm.sql(`
    CREATE TABLE node_events (
      time          timestamptz NOT NULL,
      event_id      text        NOT NULL,
      group_name    text        NOT NULL,
      node_id       text        NOT NULL,
      kind          text        NOT NULL CHECK (kind IN ('up', 'down', 'left', 'flapping')),
      last_seen_at  timestamptz,
      last_seq      bigint,
      reason        text        NOT NULL DEFAULT '',
      suspect       boolean     NOT NULL DEFAULT false,
      monitor_id    text        NOT NULL DEFAULT '',
      stream_seq    bigint      NOT NULL,
      received_at   timestamptz NOT NULL,
      UNIQUE (event_id, time)
    )`);
  pgm.sql(`SELECT create_hypertable('node_events', by_range('time', INTERVAL '7 days'))`);
  pgm.sql(`CREATE INDEX node_events_node_time ON node_events (group_name, node_id, time DESC)`);

  // Current status per node, upserted once per ingest batch (not per row), so /v1/nodes and the
  // fleet summary read one row per node instead of scanning history.
  pgm.sql(`
    CREATE TABLE node_state (
      group_name      text        NOT NULL,
      node_id         text        NOT NULL,
      status          text        NOT NULL DEFAULT 'unknown'
                                  CHECK (status IN ('unknown', 'up', 'down', 'left')),
      status_since    timestamptz,
      status_at       timestamptz,
      status_event_id text,
      suspect         boolean     NOT NULL DEFAULT false,
      flapping_at     timestamptz,
      last_beat_at    timestamptz,
      last_sent_at    timestamptz,
      last_seq        bigint,
      instance_id     text,
      interval_ms     integer,
      allowed_misses  integer,
      hostname        text,
      service_name    text,
      sdk_version     text,
      config          jsonb       NOT NULL DEFAULT '{}'::jsonb,
      PRIMARY KEY (group_name, node_id)
    )`);

  // Per node per minute. Maintained by the service's rollup refresher (TimescaleDB's Apache
  // edition, which Debian ships, has no continuous aggregates); the view heartbeats_1m adds the
  // not-yet-materialized tail from raw rows, i.e. real-time aggregation.
  pgm.sql(`
    CREATE TABLE heartbeats_1m_store (
      bucket          timestamptz NOT NULL,
      group_name      text        NOT NULL,
      node_id         text        NOT NULL,
      beats           integer     NOT NULL,
      late_beats      integer     NOT NULL,
      latency_p50_ms  real,
      latency_p99_ms  real,
      latency_avg_ms  real,
      offset_min_ms   real,
      PRIMARY KEY (group_name, node_id, bucket)
    )`);
  pgm.sql(`SELECT create_hypertable('heartbeats_1m_store', by_range('bucket', INTERVAL '7 days'))`);
  pgm.sql(`CREATE INDEX heartbeats_1m_store_bucket ON heartbeats_1m_store (bucket DESC)`);

  // watermark: buckets before it are materialized. Ingest takes this row FOR SHARE and the
  // refresher FOR UPDATE, so a batch that lands behind the watermark is always either seen by the
  // refresh or recorded as an invalidation.
  pgm.sql(`
    CREATE TABLE rollup_state (
      id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
      watermark  timestamptz NOT NULL DEFAULT '-infinity'
    )`);
  pgm.sql(`INSERT INTO rollup_state DEFAULT VALUES`);
  pgm.sql(`
    CREATE TABLE rollup_invalidations (
      lo timestamptz NOT NULL,
      hi timestamptz NOT NULL
    )`);

  // Messages that could not be decoded: kept with the reason instead of being dropped silently.
  pgm.sql(`
    CREATE TABLE ingest_rejects (
      stream      text        NOT NULL,
      stream_seq  bigint      NOT NULL,
      subject     text        NOT NULL,
      reason      text        NOT NULL,
      data        bytea       NOT NULL,
      received_at timestamptz NOT NULL,
      PRIMARY KEY (stream, stream_seq)
    )`);

  pgm.sql(`
    CREATE VIEW heartbeats_1m AS
      SELECT bucket, group_name, node_id, beats, late_beats, latency_p50_ms, latency_p99_ms,
             latency_avg_ms, offset_min_ms
        FROM heartbeats_1m_store
       WHERE bucket < (SELECT watermark FROM rollup_state)
      UNION ALL
      SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, group_name, node_id,
             count(*)::integer,
             (count(*) FILTER (WHERE late))::integer,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::real,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms)::real,
             avg(latency_ms)::real,
             min(latency_ms)::real
        FROM heartbeats
       WHERE time >= (SELECT watermark FROM rollup_state)
       GROUP BY 1, 2, 3`);
}

function down(pgm) {
  pgm.sql(`DROP VIEW IF EXISTS heartbeats_1m`);
  for (const t of [
    "ingest_rejects",
    "rollup_invalidations",
    "rollup_state",
    "heartbeats_1m_store",
    "node_state",
    "node_events",
    "heartbeats",
  ]) {
    pgm.sql(`DROP TABLE IF EXISTS ${t}`);
  }
}

module.exports = { up, down };
