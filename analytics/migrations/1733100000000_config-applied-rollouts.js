// Rollout status (GET /v1/rollouts): `config.applied` events say which revision a node runs and,
// in pending_revision, a newer one it holds but does not run yet (activate_at, strong commit).
// The rollout query reads, per key, the newest applied and the newest node-side rejected event of
// each node, and the first apply of each revision per node; this index serves all three.

function up(pgm) {
  pgm.sql(`ALTER TABLE config_events ADD COLUMN pending_revision bigint`);
  pgm.sql(`
    CREATE INDEX config_events_node_key ON config_events (group_name, key, node_id, time DESC)
     WHERE node_id <> '' AND kind IN ('applied', 'rejected')`);
}

function down(pgm) {
  pgm.sql(`DROP INDEX IF EXISTS config_events_node_key`);
  pgm.sql(`ALTER TABLE config_events DROP COLUMN pending_revision`);
}

module.exports = { up, down };
