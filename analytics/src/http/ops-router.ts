import { Router } from "express";
import type { Pool } from "pg";
import { failureText } from "../failure-text";
import type { StorageInfo } from "../db/storage-policies";
import type { MaintenanceLoop } from "../maintenance/maintenance-loop";
import type { AnalyticsMetrics } from "../metrics";
import type { ConsumerLag, IngestStatus } from "../model/ingest-status";

/** What the operational endpoints read of one stream's ingest. */
export interface IngestProbe {
  status(): IngestStatus;
  /** Asks the server; refreshes the lag gauge on the way. */
  lag(): Promise<ConsumerLag>;
}

/** What the operational endpoints look at. */
export interface OpsSources {
  pool: Pool;
  /** False between a NATS disconnect and the reconnect. */
  natsConnected: () => boolean;
  ingesters: readonly IngestProbe[];
  maintenance: MaintenanceLoop;
  storage: StorageInfo;
  metrics: AnalyticsMetrics;
}

const CHECK_TIMEOUT_MS = 2000;

/** /v1/pipeline, /metrics and /healthz. */
export function opsRouter(src: OpsSources): Router {
  const r = Router();

  r.get("/v1/pipeline", async (_req, res) => {
    const streams = await Promise.all(
      src.ingesters.map(async (ing) => {
        const lag = await withTimeout(ing.lag()).catch(() => null);
        return { ...ing.status(), lag };
      }),
    );
    const wm = await src.pool
      .query<{ watermark: Date | number }>("SELECT watermark FROM rollup_state")
      .then((q) => q.rows[0]?.watermark)
      .catch(() => undefined);
    res.json({
      rowsPerSec: streams.reduce((s, x) => s + x.rowsPerSec, 0),
      streams,
      storage: {
        ...src.storage,
        rollupWatermarkMs: wm instanceof Date ? wm.getTime() : null,
        maintenance: src.maintenance.status(),
      },
    });
  });

  r.get("/metrics", async (_req, res) => {
    // Refresh the lag gauges on scrape; a failure leaves the last value.
    await Promise.all(src.ingesters.map((i) => withTimeout(i.lag()).catch(() => undefined)));
    res.type(src.metrics.registry.contentType).send(await src.metrics.registry.metrics());
  });

  r.get("/healthz", async (_req, res) => {
    const postgres = await withTimeout(src.pool.query("SELECT 1")).then(
      () => ({ ok: true }),
      (err: unknown) => ({ ok: false, error: failureText(err) }),
    );
    const nats = { ok: src.natsConnected() };
    const ingest = src.ingesters.map((i) => {
      const s = i.status();
      return { kind: s.kind, ok: s.healthy, error: s.lastError };
    });
    const ok = postgres.ok && nats.ok && ingest.every((i) => i.ok);
    res
      .status(ok ? 200 : 503)
      .json({ status: ok ? "ok" : "unavailable", checks: { postgres, nats, ingest } });
  });

  return r;
}

function withTimeout<T>(p: Promise<T>, ms = CHECK_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
