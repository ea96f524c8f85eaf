import express from "express";
import type { Express, NextFunction, Request, Response } from "express";
import type { Registry } from "prom-client";
import { edgeMiddleware, securityHeaders } from "@konorkestra/sdk/internal";
import type { HttpEdge } from "@konorkestra/sdk/internal";
import { signedWebhook } from "./http-guards";
import type { LoaderHealth, ReconcileReport } from "./reconcile-report";
import { RefreshCoalescer } from "./refresh-coalescer";

/** What the admin API drives. */
export interface AdminTarget {
  health(): LoaderHealth;
  /** Full reconcile, queued behind any pass in progress. */
  reconcile(scope: "full"): Promise<ReconcileReport>;
  readonly metricsRegistry: Registry;
}

/** What guards the admin API. */
export interface AdminHttpGuards {
  /** Host allow-list and CORS. */
  edge: HttpEdge;
  /** Shared secret of the refresh webhook; undefined turns the webhook off (403). */
  webhookSecret: string | undefined;
}

/** Largest webhook body read (git hosts send push payloads of up to a few MB). */
const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024;

/**
 * The loader's admin API:
 * - `POST /v1/_refresh` — full reconcile now (git-sync's or a git host's webhook), signed with
 *   `X-Hub-Signature-256` (401 without a valid signature); requests that arrive while a pass runs
 *   share one more pass. 200 with the report, 503 when it failed (NATS down, root missing).
 * - `GET /healthz` — 200 when connected and the last reconcile succeeded, else 503 with why.
 * - `GET /metrics` — Prometheus text format. Open, like /healthz: counters and timings only, no
 *   secret and no config value; the API listens on 127.0.0.1 by default and every route is behind
 *   the Host allow-list.
 */
export function createAdminApp(target: AdminTarget, guards: AdminHttpGuards): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(securityHeaders());
  app.use(edgeMiddleware(guards.edge));
  const refresh = new RefreshCoalescer(() => target.reconcile("full"));

  app.post(
    "/v1/_refresh",
    express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }),
    signedWebhook(guards.webhookSecret),
    async (_req: Request, res: Response) => {
      const report = await refresh.request();
      res.status(report.ok ? 200 : 503).json(report);
    },
  );

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
    const status = (err as { status?: unknown }).status;
    if ((err as { type?: unknown }).type === "entity.too.large") {
      res
        .status(413)
        .json({ code: "PAYLOAD_TOO_LARGE", message: `body over ${WEBHOOK_BODY_LIMIT} bytes` });
      return;
    }
    if (typeof status === "number" && status >= 400 && status < 500) {
      res.status(status).json({ code: "BAD_REQUEST", message: "the request could not be read" });
      return;
    }
    res.status(500).json({ code: "INTERNAL", message: String(err) });
  });

  return app;
}
