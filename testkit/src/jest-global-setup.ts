import { prepareTemplate, startPostgresServer } from "./postgres";
import type { PostgresServer } from "./postgres";

declare global {
  var __konPostgres: PostgresServer | undefined;
}

/**
 * Starts the run's one PostgreSQL server and migrates the template database once. Workers inherit
 * KON_TEST_PG_URL, and each test file's `startPostgres()` clones a database from the template.
 * KON_TEST_PG=off skips this (unit-only runs need no server).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.KON_TEST_PG === "off" || process.env.KON_TEST_PG_URL) return;
  const server = await startPostgresServer();
  await prepareTemplate(server);
  globalThis.__konPostgres = server;
  process.env.KON_TEST_PG_URL = server.url();
}
