// node_state is updated in place all the time (each node's beat, every resolution period). With
// free room on every page an update can stay on its page (a HOT update): no new primary-key
// entry, smaller WAL. Applies to pages written from now on.

function up(pgm) {
  pgm.sql(`ALTER TABLE node_state SET (fillfactor = 50)`);
}

function down(pgm) {
  pgm.sql(`ALTER TABLE node_state RESET (fillfactor)`);
}

module.exports = { up, down };
