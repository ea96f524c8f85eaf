// Loaded by testkit's Jest global setup (KON_TEST_PG_TEMPLATE_HOOKS) with a plain `require`, so
// this module and what it imports must not depend on Jest's module mapping of @konorkestra/*.
import { runMigrations } from "./migrate";

/** Runs the admin migrations into the test run's template database. */
export async function migrateTemplate(databaseUrl: string): Promise<void> {
  await runMigrations(databaseUrl);
}
