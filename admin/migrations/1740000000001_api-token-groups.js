// API tokens may be limited to groups (issue #12): NULL = every group, as before. The same list is
// signed into the token's `groups` claim, so verifiers need no database to enforce it.

function up(pgm) {
  pgm.sql(`ALTER TABLE api_tokens ADD COLUMN groups text[]`);
}

module.exports = { up };
