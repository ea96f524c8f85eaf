// For /v1/nodes: a stable id per node_state row (kept by upserts; a node deleted and seen again
// gets a new one) and a version that moves whenever something the list shows changes, except the
// beat itself (last_beat_at, last_seq), which moves every couple of seconds. The list keeps each
// node's formatted JSON by id and version, and per request asks PostgreSQL only for numbers (id,
// version, status, beat) and for the rows whose version moved. A trigger keeps the version, so
// every writer (the ingest's upserts, the event writer, an UPDATE by hand) moves it; its WHEN
// clause is evaluated without entering PL/pgSQL, so a beat-only update pays a comparison only.

const SHOWN = [
  "status",
  "status_since",
  "suspect",
  "flapping_at",
  "instance_id",
  "interval_ms",
  "hostname",
  "service_name",
  "sdk_version",
  "config",
];

function up(pgm) {
  pgm.sql(`ALTER TABLE node_state ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE`);
  pgm.sql(`CREATE SEQUENCE node_state_version`);
  pgm.sql(
    `ALTER TABLE node_state ADD COLUMN version bigint NOT NULL DEFAULT nextval('node_state_version')`,
  );
  pgm.sql(`
    CREATE FUNCTION node_state_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.version := nextval('node_state_version');
      RETURN NEW;
    END $$`);
  const row = (r) => `(${SHOWN.map((c) => `${r}.${c}`).join(", ")})`;
  pgm.sql(`
    CREATE TRIGGER node_state_version BEFORE UPDATE ON node_state FOR EACH ROW
      WHEN (${row("OLD")} IS DISTINCT FROM ${row("NEW")})
      EXECUTE FUNCTION node_state_bump_version()`);
}

function down(pgm) {
  pgm.sql(`DROP TRIGGER node_state_version ON node_state`);
  pgm.sql(`DROP FUNCTION node_state_bump_version()`);
  pgm.sql(`ALTER TABLE node_state DROP COLUMN version`);
  pgm.sql(`DROP SEQUENCE node_state_version`);
  pgm.sql(`ALTER TABLE node_state DROP COLUMN id`);
}

module.exports = { up, down };
