import type { Logger } from "@konorkestra/sdk";
import type { Pool } from "pg";
import { sleep } from "../backoff";
import { failureText, redactSecrets } from "../failure-text";
import { dropExpiredChunks } from "../db/storage-policies";
import type { StorageInfo, StoragePolicyOptions } from "../db/storage-policies";
import { refreshRollup } from "./rollup-refresher";

/** Settings of {@link MaintenanceLoop}. */
export interface MaintenanceOptions extends StoragePolicyOptions {
  maintenanceIntervalMs: number;
  rollupLagMs: number;
}

/**
 * Periodic work every instance runs (each step is safe to run concurrently): refresh the
 * per-minute rollup and, when TimescaleDB has no policies, drop expired chunks.
 */
export class MaintenanceLoop {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private lastRunAtMs: number | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly storage: StorageInfo,
    private readonly opts: MaintenanceOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Runs every step once (also used by tests to materialize without waiting). */
  async runOnce(now = Date.now()): Promise<void> {
    await refreshRollup(this.pool, this.opts.rollupLagMs, now);
    if (this.storage.retention === "service") await dropExpiredChunks(this.pool, this.opts);
    this.lastRunAtMs = Date.now();
  }

  status(): { lastRunAtMs?: number; lastError?: string } {
    return { lastRunAtMs: this.lastRunAtMs, lastError: this.lastError };
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.runOnce();
        this.lastError = undefined;
      } catch (err) {
        // PostgreSQL down: the ingest reports it; here it only means the next round catches up.
        this.lastError = failureText(err);
        this.logger.warn(
          `maintenance failed: ${redactSecrets(err instanceof Error ? err.message : String(err))}`,
        );
      }
      await sleep(this.opts.maintenanceIntervalMs, this.abort.signal);
    }
  }
}
