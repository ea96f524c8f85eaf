import { Pool } from "pg";
import type { LiveConfig } from "../live-config";
import type { DatabaseConfig, Service3Config } from "./service3-config";

/**
 * Owns the service's `pg` pool and rebuilds it only when the `database` slice of the config
 * changes. The new pool must answer `SELECT 1` before it replaces the old one; if it cannot, the
 * old pool stays in use and the failure is reported, so a bad database setting never takes the
 * service down. The old pool is ended after the swap, letting in-flight queries finish.
 */
export class PoolManager {
  private pool: Pool;
  private gen = 1;
  private lastError: string | undefined;

  constructor(
    config: LiveConfig<Service3Config>,
    private readonly onError: (msg: string) => void = () => undefined,
  ) {
    this.pool = PoolManager.create(config.value.database);
    config.select(
      (c) => c.database,
      (db) => this.rebuild(db),
    );
  }

  private static create(db: DatabaseConfig): Pool {
    return new Pool({
      host: db.host,
      port: db.port,
      database: db.database,
      user: db.user,
      password: db.password,
      max: db.maxConnections,
      connectionTimeoutMillis: 3000,
    });
  }

  /** How many pools have been built (1 = never rebuilt). */
  get generation(): number {
    return this.gen;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  get current(): Pool {
    return this.pool;
  }

  private async rebuild(db: DatabaseConfig): Promise<void> {
    const next = PoolManager.create(db);
    try {
      await next.query("SELECT 1");
    } catch (err) {
      await next.end().catch(() => undefined);
      this.lastError = `database ${db.user}@${db.host}:${db.port}/${db.database} unusable, keeping the previous pool: ${String(err)}`;
      this.onError(this.lastError);
      return;
    }
    const old = this.pool;
    this.pool = next;
    this.gen++;
    this.lastError = undefined;
    await old.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
