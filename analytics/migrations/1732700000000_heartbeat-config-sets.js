// The config a node reports moves from a jsonb per heartbeat to a reference: `config_set` names
// a row of `config_sets`, one per distinct set of (config key, revision) pairs. At 100,000 beats
// per second the per-row jsonb (built by the ingest, parsed by PostgreSQL) was a large share of
// the cost, for a value that changes only when config changes. The ingest computes the id (a
// 53-bit hash of the pairs, order-free) and inserts each set once; 0 is "no config reported".
// Rows stored before this migration keep their config under negative ids.

function up(pgm) {
  pgm.sql(`
    CREATE TABLE config_sets (
      id          bigint      PRIMARY KEY,
      revisions   jsonb       NOT NULL,
      first_seen  timestamptz NOT NULL DEFAULT now()
    )`);
  pgm.sql(`INSERT INTO config_sets (id, revisions) VALUES (0, '{}')`);
  pgm.sql(`ALTER TABLE heartbeats ADD COLUMN config_set bigint NOT NULL DEFAULT 0`);
  pgm.sql(`
    INSERT INTO config_sets (id, revisions)
    SELECT -row_number() OVER (ORDER BY c::text), c
      FROM (SELECT DISTINCT config AS c FROM heartbeats WHERE config <> '{}'::jsonb) d`);
  pgm.sql(`
    UPDATE heartbeats h SET config_set = s.id
      FROM config_sets s
     WHERE s.id < 0 AND h.config = s.revisions`);
  pgm.sql(`ALTER TABLE heartbeats DROP COLUMN config`);
  // For queries by hand: each heartbeat with the revisions its node ran.
  pgm.sql(`
    CREATE VIEW heartbeats_with_config AS
      SELECT h.*, s.revisions AS config
        FROM heartbeats h JOIN config_sets s ON s.id = h.config_set`);
}

function down(pgm) {
  pgm.sql(`DROP VIEW heartbeats_with_config`);
  pgm.sql(`ALTER TABLE heartbeats ADD COLUMN config jsonb NOT NULL DEFAULT '{}'::jsonb`);
  pgm.sql(
    `UPDATE heartbeats h SET config = s.revisions FROM config_sets s WHERE s.id = h.config_set AND h.config_set <> 0`,
  );
  pgm.sql(`ALTER TABLE heartbeats DROP COLUMN config_set`);
  pgm.sql(`DROP TABLE config_sets`);
}

module.exports = { up, down };
