import type { Pool, PoolClient } from "pg";

/** Something that runs queries: the pool, or a client inside a transaction. */
export type Queryable = Pick<Pool, "query"> | PoolClient;

/** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** True for PostgreSQL's unique_violation (23505). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "23505";
}
