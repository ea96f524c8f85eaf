import express from "express";
import type { Express, NextFunction, Request, Response } from "express";
import type { Registry } from "prom-client";
import type { LoaderHealth, ReconcileReport } from "./reconcile-report";

/** What the admin API drives. */
export interface AdminTarget {
  health(): LoaderHealth;
  /** Full reconcile, queued behind any pass in progress. */
  reconcile(scope: "full"): Promise<ReconcileReport>;
  readonly metricsRegistry: Registry;
}

/**
 * The loader's admin API:
 * - `POST /v1/_refresh` — full reconcile now (git-sync's webhook); 200 with the report, 503 when
 *   it failed (NATS down, root missing), with the reason.
 * - `GET /healthz` — 200 when connected and the last reconcile succeeded, else 503 with why.
 * - `GET /metrics` — Prometheus text format.
 */
export function createAdminApp(target: AdminTarget): Express {
  const app = express();
  app.disable("x-powered-by");

  app.post("/v1/_refresh", async (_req: Request, res: Response) => {
    const report = await target.reconcile("full");
    res.status(report.ok ? 200 : 503).json(report);
  });

  app.get("/healthz", (_req: Request, res: Response) => {
    const h = target.health();
    res.status(h.ok ? 200 : 503).json(h);
  });

  app.get("/metrics", async (_req: Request, res: Response) => {
    res.type(target.metricsRegistry.contentType).send(await target.metricsRegistry.metrics());
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ code: "NOT_FOUND", message: "no such endpoint" });
  });

  // Express 5 forwards rejected promises of async handlers here.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ code: "INTERNAL", message: String(err) });
  });

  return app;
}
