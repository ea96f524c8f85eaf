import { Client } from "pg";

/** Runs one query on a short-lived connection and returns its rows. */
export async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new Client({ connectionString: url });
  c.on("error", () => undefined); // a server restart mid-test: the query rejects instead
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Rows in a table and distinct values of a key, to prove nothing was lost or doubled. */
export async function countRows(
  url: string,
  table: string,
  key: string,
): Promise<{ rows: number; distinct: number }> {
  const [r] = await sql<{ rows: number; distinct: number }>(
    url,
    `SELECT count(*)::int AS rows, count(DISTINCT ${key})::int AS distinct FROM ${table}`,
  );
  return r!;
}
