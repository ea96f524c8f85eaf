import { join } from "node:path";
import { runner } from "node-pg-migrate";
import { Client } from "pg";
import { packageRoot } from "../package-root";

/** The PostgreSQL schema that holds every admin table and the admin's migrations table. */
export const ADMIN_SCHEMA = "kon_admin";

/** Directory of the migration files, the same from `src/` (tests) and `dist/` (a build). */
export const MIGRATIONS_DIR = join(packageRoot(), "migrations");

/**
 * Brings `kon_admin` in the database at `databaseUrl` to the latest schema. Shares the database
 * with analytics but not its schema or migrations table. Safe to run from several instances at
 * once: node-pg-migrate holds an advisory lock, and the others wait for it here (up to
 * `lockWaitMs`). Returns the names of the migrations it applied.
 */
export async function runMigrations(
  databaseUrl: string,
  opts: { log?: (msg: string) => void; lockWaitMs?: number } = {},
): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  const deadline = Date.now() + (opts.lockWaitMs ?? 60_000);
  // A role that owns an existing kon_admin (make up creates it for role kon_admin) needs no right
  // to create schemas in the database, and PostgreSQL checks that right even for IF NOT EXISTS.
  const create = !(await schemaExists(databaseUrl));
  for (;;) {
    try {
      const applied = await runner({
        databaseUrl,
        dir: MIGRATIONS_DIR,
        direction: "up",
        schema: ADMIN_SCHEMA,
        createSchema: create,
        migrationsSchema: ADMIN_SCHEMA,
        createMigrationsSchema: create,
        migrationsTable: "admin_migrations",
        singleTransaction: true,
        checkOrder: true,
        log,
        logger: { debug: log, info: log, warn: log, error: log },
      });
      return applied.map((m) => m.name);
    } catch (err) {
      if (!/Another migration is already running/.test(String(err)) || Date.now() > deadline) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function schemaExists(databaseUrl: string): Promise<boolean> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [ADMIN_SCHEMA]);
    return r.rowCount === 1;
  } finally {
    await client.end();
  }
}
