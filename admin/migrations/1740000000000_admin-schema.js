// Admin schema, in its own PostgreSQL schema `kon_admin` (the migration runner sets the search
// path to it). Plain CommonJS so node-pg-migrate loads it the same way from a checkout and a build.
// Secrets are never stored: passwords and join-key secrets as argon2id hashes, high-entropy
// random tokens (bootstrap, invitation, refresh, API) as their SHA-256.

function up(pgm) {
  pgm.sql(`
    CREATE TABLE admins (
      id             text        PRIMARY KEY,
      email          text        NOT NULL UNIQUE,
      password_hash  text        NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now(),
      invited_by     text        REFERENCES admins(id) ON DELETE SET NULL
    )`);

  // The one-time token of the first sign-up. At most one unused row at a time.
  pgm.sql(`
    CREATE TABLE bootstrap_tokens (
      id          bigserial   PRIMARY KEY,
      token_hash  text        NOT NULL UNIQUE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      used_at     timestamptz
    )`);
  pgm.sql(`CREATE UNIQUE INDEX bootstrap_tokens_one_unused ON bootstrap_tokens ((true))
           WHERE used_at IS NULL`);

  pgm.sql(`
    CREATE TABLE invitations (
      id          text        PRIMARY KEY,
      token_hash  text        NOT NULL UNIQUE,
      email       text,
      created_by  text        NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL,
      used_at     timestamptz
    )`);

  // Refresh tokens rotate within a family; presenting a used one revokes the whole family.
  pgm.sql(`
    CREATE TABLE refresh_tokens (
      id          text        PRIMARY KEY,
      family_id   text        NOT NULL,
      admin_id    text        NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
      token_hash  text        NOT NULL UNIQUE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL,
      used_at     timestamptz,
      revoked_at  timestamptz
    )`);
  pgm.sql(`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`);

  pgm.sql(`
    CREATE TABLE api_tokens (
      id          text        PRIMARY KEY,
      name        text        NOT NULL,
      admin_id    text        NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
      scopes      text[]      NOT NULL,
      token_hash  text        NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz,
      revoked_at  timestamptz
    )`);

  pgm.sql(`
    CREATE TABLE groups (
      name        text        PRIMARY KEY,
      created_at  timestamptz NOT NULL DEFAULT now(),
      created_by  text        NOT NULL
    )`);

  // expires_at: set when a newer key replaced this one (end of its grace period).
  pgm.sql(`
    CREATE TABLE join_keys (
      key_id       text        PRIMARY KEY,
      group_name   text        NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
      secret_hash  text        NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      created_by   text        NOT NULL,
      expires_at   timestamptz,
      revoked_at   timestamptz
    )`);
  pgm.sql(`CREATE INDEX join_keys_group ON join_keys (group_name)`);

  pgm.sql(`
    CREATE TABLE audit (
      id      bigserial   PRIMARY KEY,
      at      timestamptz NOT NULL DEFAULT now(),
      actor   text        NOT NULL,
      action  text        NOT NULL,
      target  text        NOT NULL DEFAULT '',
      source  text        NOT NULL DEFAULT '',
      result  text        NOT NULL,
      detail  text        NOT NULL DEFAULT ''
    )`);
}

module.exports = { up };
