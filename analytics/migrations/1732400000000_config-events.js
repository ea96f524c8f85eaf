// Config audit trail: one row per ConfigEvent (kon.evt.<group>.config.<kind>) — what was
// published, deleted or rejected, when, by which change set, and why a value was refused.
// Chunk interval and retention are applied at every start from the service's options
// (src/db/storage-policies.ts); the values here are only the initial defaults.

function up(pgm) {
  // time = at_ms of the event (the stream time when missing), identical on every redelivery, so
  // (event_id, time) is a stable unique key. git_commit / git_author / published_by are not in
  // ConfigEvent: they are read from the ConfigEntry at `revision` in the group's bucket at ingest
  // (published events only), and stay NULL when that revision was no longer there.
  pgm.sql(`
    CREATE TABLE config_events (
      time              timestamptz NOT NULL,
      event_id          text        NOT NULL,
      group_name        text        NOT NULL,
      key               text        NOT NULL DEFAULT '',
      kind              text        NOT NULL CHECK (kind IN ('published', 'deleted', 'rejected',
                                      'applied', 'prepare_ok', 'prepare_failed', 'aborted')),
      revision          bigint,
      sha256            text        NOT NULL DEFAULT '',
      change_set_id     text        NOT NULL DEFAULT '',
      source_path       text        NOT NULL DEFAULT '',
      node_id           text        NOT NULL DEFAULT '',
      prepare_id        text        NOT NULL DEFAULT '',
      error_file        text,
      error_line        integer,
      error_column      integer,
      error_reason      text,
      error_code        text,
      error_value_path  text,
      git_commit        text,
      git_author        text,
      published_by      text,
      stream_seq        bigint      NOT NULL,
      received_at       timestamptz NOT NULL,
      UNIQUE (event_id, time)
    )`);
  pgm.sql(`SELECT create_hypertable('config_events', by_range('time', INTERVAL '7 days'))`);
  // History of one key, of one group, and the rejections list (a small share of all rows).
  pgm.sql(`CREATE INDEX config_events_key_time ON config_events (group_name, key, time DESC)`);
  pgm.sql(`CREATE INDEX config_events_group_time ON config_events (group_name, time DESC)`);
  pgm.sql(
    `CREATE INDEX config_events_rejected_time ON config_events (time DESC) WHERE kind = 'rejected'`,
  );
}

function down(pgm) {
  pgm.sql(`DROP TABLE IF EXISTS config_events`);
}

module.exports = { up, down };
