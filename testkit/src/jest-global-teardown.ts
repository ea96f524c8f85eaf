/** Stops the PostgreSQL server that the global setup started. */
export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__konPostgres;
  if (!server) return;
  globalThis.__konPostgres = undefined;
  delete process.env.KON_TEST_PG_URL;
  await server.stop();
}
