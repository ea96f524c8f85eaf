import type { Pool, PoolClient } from "pg";

/**
 * Runs `fn` in one transaction on a pooled connection. On any error the connection is discarded
 * rather than returned to the pool: after a server restart it would be dead anyway, and its
 * temporary staging tables are cheap to create again.
 */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    client.release();
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    client.release(true);
    throw err;
  }
}
