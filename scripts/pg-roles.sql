-- A login role per service, no superuser (scripts/stack.sh at `make up`; the same file is run by
-- analytics/test/service-roles.int.test.ts). The placeholders (DATABASE, ANALYTICS_PW, ADMIN_PW in
-- double braces) are replaced before it runs; passwords are random base64url: no quoting needed.
SET client_min_messages = warning;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kon_analytics') THEN
    CREATE ROLE kon_analytics LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kon_admin') THEN
    CREATE ROLE kon_admin LOGIN;
  END IF;
END
$$;
ALTER ROLE kon_analytics LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{{ANALYTICS_PW}}';
ALTER ROLE kon_admin LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{{ADMIN_PW}}';
REVOKE ALL ON DATABASE "{{DATABASE}}" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE "{{DATABASE}}" TO kon_analytics, kon_admin;
-- analytics: its tables, hypertables, aggregates and policies in public, which it then owns.
GRANT USAGE, CREATE ON SCHEMA public TO kon_analytics;
-- admin: schema kon_admin and nothing else.
CREATE SCHEMA IF NOT EXISTS kon_admin AUTHORIZATION kon_admin;
