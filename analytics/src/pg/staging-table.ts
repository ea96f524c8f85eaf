import type { ClientBase } from "pg";

// Temporary tables live per connection; remember which pooled connections already have them.
const prepared = new WeakMap<ClientBase, Set<string>>();

/**
 * Creates a session-local staging table (once per connection) shaped by `ddl`. ON COMMIT DELETE
 * ROWS empties it at the end of every transaction, committed or not.
 */
export async function ensureStaging(client: ClientBase, name: string, ddl: string): Promise<void> {
  let names = prepared.get(client);
  if (!names) prepared.set(client, (names = new Set()));
  if (names.has(name)) return;
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${name} (${ddl}) ON COMMIT DELETE ROWS`);
  names.add(name);
}
