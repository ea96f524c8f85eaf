import { prepareTemplate, startPostgresServer } from "./postgres";
import type { PostgresServer, TemplateMigration } from "./postgres";

declare global {
  var __konPostgres: PostgresServer | undefined;
}

/**
 * Starts the run's one PostgreSQL server and migrates the template database once. Workers inherit
 * KON_TEST_PG_URL, and each test file's `startPostgres()` clones a database from the template.
 * KON_TEST_PG=off skips this (unit-only runs need no server).
 *
 * Packages with a schema name a module in KON_TEST_PG_TEMPLATE_HOOKS (comma-separated paths, set
 * by jest.config.js) that exports `migrateTemplate(databaseUrl)`; testkit loads them by path so it
 * never depends on the packages it serves.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.KON_TEST_PG === "off" || process.env.KON_TEST_PG_URL) return;
  const server = await startPostgresServer();
  await prepareTemplate(server, templateHooks());
  globalThis.__konPostgres = server;
  process.env.KON_TEST_PG_URL = server.url();
}

function templateHooks(): TemplateMigration[] {
  const paths = (process.env.KON_TEST_PG_TEMPLATE_HOOKS ?? "").split(",").filter(Boolean);
  return paths.map((path) => async (_client, databaseUrl) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path) as { migrateTemplate?: (url: string) => Promise<void> };
    if (typeof mod.migrateTemplate !== "function") {
      throw new Error(
        `testkit: ${path} (KON_TEST_PG_TEMPLATE_HOOKS) exports no migrateTemplate(url)`,
      );
    }
    await mod.migrateTemplate(databaseUrl);
  });
}
