import { join } from "node:path";
import { runner } from "node-pg-migrate";
import { packageRoot } from "../package-root";

/** Options of {@link runMigrations}. */
export interface MigrateOptions {
  /** Where node-pg-migrate's progress lines go. @default silent */
  log?: (msg: string) => void;
  /** How long to wait while another instance holds the migration lock. @default 60000 */
  lockWaitMs?: number;
}

/** Directory of the migration files, the same from `src/` (tests) and `dist/` (a build). */
export const MIGRATIONS_DIR = join(packageRoot(), "migrations");

/**
 * Brings the database at `databaseUrl` to the latest schema with node-pg-migrate. Safe to run
 * from several instances at once: node-pg-migrate holds an advisory lock while it works, and the
 * others wait for it here.
 * Returns the names of the migrations it applied.
 */
export async function runMigrations(
  databaseUrl: string,
  opts: MigrateOptions = {},
): Promise<string[]> {
  const deadline = Date.now() + (opts.lockWaitMs ?? 60_000);
  for (;;) {
    try {
      return await runOnce(databaseUrl, opts);
    } catch (err) {
      // node-pg-migrate does not wait for its lock: another instance is migrating right now.
      if (!/Another migration is already running/.test(String(err)) || Date.now() > deadline) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function runOnce(databaseUrl: string, opts: MigrateOptions): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: "up",
    migrationsTable: "analytics_migrations",
    // create_hypertable and the view must see each other; one transaction per migration is
    // enough and keeps a failed migration from leaving half a schema.
    singleTransaction: true,
    checkOrder: true,
    log,
    logger: { debug: log, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}
