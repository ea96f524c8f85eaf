import express from "express";
import type { Express, Request, Response } from "express";
import { KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { edgeMiddleware, groupScopeGuard, securityHeaders } from "@konorkestra/sdk/internal";
import type { HttpEdge } from "@konorkestra/sdk/internal";
import type { MonitorMetrics } from "../metrics";
import { HttpError, errorHandler, sendError } from "./http-error";
import { createIngestRouter } from "./ingest-router";
import type { IngestDeps } from "./ingest-router";
import { createNodesRouter } from "./nodes-router";
import type { NodesDeps } from "./nodes-router";
import { MONITOR_ROUTE_SCOPES } from "./group-scope";
import { tokenGuard } from "./token-guard";
import type { ApiAccess } from "./token-guard";

/** What `/healthz` reports. */
export interface HealthReport {
  ok: boolean;
  [k: string]: unknown;
}

/** The monitor's HTTP surface: ingest, liveness API, /metrics, /healthz. */
export function createHttpApp(deps: {
  ingest: IngestDeps;
  nodes: NodesDeps;
  metrics: MonitorMetrics;
  health: () => HealthReport;
  logger: Logger;
  /** Host allow-list and CORS, before every route. */
  edge: HttpEdge;
  /** Who may read `/v1/nodes` and `/metrics`. */
  access: ApiAccess;
}): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(securityHeaders());
  app.use(edgeMiddleware(deps.edge));
  app.use("/v1/heartbeat", createIngestRouter(deps.ingest));
  app.get("/healthz", (_req: Request, res: Response) => {
    const report = deps.health();
    res.status(report.ok ? 200 : 503).json(report);
  });
  // Every route from here on (unknown ones too) needs a token, and passes the check of its
  // `groups` claim: a route group-scope.ts does not list is refused to a token limited to groups.
  app.use(tokenGuard(deps.access));
  app.use(groupScopeGuard(MONITOR_ROUTE_SCOPES, express.Router));
  app.use("/v1/nodes", createNodesRouter(deps.nodes));
  app.get("/metrics", async (_req: Request, res: Response) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use((req: Request, res: Response) =>
    sendError(res, new HttpError(404, KonErrorCode.NotFound, `no route ${req.method} ${req.path}`)),
  );
  app.use(errorHandler(deps.logger));
  return app;
}
