// The (group_name, node_id, time DESC) index on heartbeats more than doubled PostgreSQL's cost per
// stored beat (2.5 → 5.7 µs, one random-order B-tree insert per row at up to 100,000 rows/s) and
// no query of the service uses it (per-node series come from the per-minute rollup). It becomes
// an option, KON_HB_NODE_INDEX (src/db/storage-policies.ts creates or drops it at start).

function up(pgm) {
  pgm.sql(`DROP INDEX IF EXISTS heartbeats_node_time`);
}

function down(pgm) {
  pgm.sql(
    `CREATE INDEX IF NOT EXISTS heartbeats_node_time ON heartbeats (group_name, node_id, time DESC)`,
  );
}

module.exports = { up, down };
