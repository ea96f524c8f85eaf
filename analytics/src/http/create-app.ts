import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { edgeMiddleware, groupScopeGuard, securityHeaders } from "@konorkestra/sdk/internal";
import type { AccessGate, HttpEdge } from "@konorkestra/sdk/internal";
import express from "express";
import type { ErrorRequestHandler, Express, RequestHandler } from "express";
import type { FleetQueries } from "../domain/fleet-queries";
import { failureText, redactSecrets } from "../failure-text";
import type { AnalyticsMetrics } from "../metrics";
import { packageRoot } from "../package-root";
import type { ConfigEventStore } from "../store/config-event-store";
import type { FleetStore } from "../store/fleet-store";
import type { SeriesStore } from "../store/series-store";
import type { RolloutQueries } from "../domain/rollout-queries";
import { ApiAdmission } from "./api-admission";
import type { ApiAdmissionLimits } from "./api-admission";
import { configRouter } from "./config-router";
import { fleetRouter } from "./fleet-router";
import { ANALYTICS_ROUTE_SCOPES } from "./group-scope";
import { incidentsRouter } from "./incidents-router";
import { opsRouter } from "./ops-router";
import { rolloutsRouter } from "./rollouts-router";
import type { OpsSources } from "./ops-router";
import { tokenGuard } from "./request-guards";
import { seriesRouter } from "./series-router";

/** Everything the HTTP layer serves from. */
export interface AppSources extends OpsSources {
  fleet: FleetStore;
  series: SeriesStore;
  queries: FleetQueries;
  /** The config history (`config_events`). */
  configEvents: ConfigEventStore;
  /** Rollout status of a key (`/v1/rollouts`). */
  rollouts: RolloutQueries;
  metrics: AnalyticsMetrics;
  logger: Logger;
  /** How long a `/v1/nodes` or drift summary answer is served from memory (0: never). */
  apiCacheMs: number;
  /** Host allow-list and CORS. */
  edge: HttpEdge;
  /** Checks the `read` token every route but `/healthz` needs; undefined with KON_AUTH=off. */
  access: AccessGate | undefined;
  /** Bounds on `/v1` requests at a time and in line (see ApiAdmission); none when undefined. */
  admission?: ApiAdmissionLimits;
}

/** Folder of the dashboard (HTML, JS, CSS and the uPlot copy made by `npm run build`). */
export const DASHBOARD_DIR = join(packageRoot(), "public");

/**
 * The express app: JSON API under /v1, /metrics, /healthz, and the dashboard at /. Every answer
 * carries the browser security headers (CSP `'self'` only: the dashboard has no inline script or
 * style, and must keep it so); every request passes the Host allow-list; everything but
 * `/healthz` and the dashboard's own files (code and style, no data: a browser cannot send a
 * token when it loads a page) needs a `read` token.
 */
export function createApp(src: AppSources): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(securityHeaders());
  app.use(edgeMiddleware(src.edge));
  app.use(timing(src.metrics));
  if (!existsSync(join(DASHBOARD_DIR, "vendor", "uPlot.iife.min.js"))) {
    src.logger.warn(
      `dashboard chart library missing in ${DASHBOARD_DIR}/vendor: run 'npm run build'`,
    );
  }
  app.use(dashboardFiles());
  app.use(tokenGuard(src.access));
  app.use(groupScopeGuard(ANALYTICS_ROUTE_SCOPES, express.Router));
  if (src.admission) app.use(new ApiAdmission(src.admission).middleware());
  app.use(fleetRouter(src.fleet, src.queries, src.apiCacheMs));
  app.use(incidentsRouter(src.queries));
  app.use(seriesRouter(src.series));
  app.use(configRouter(src.queries, src.configEvents, src.apiCacheMs));
  app.use(rolloutsRouter(src.rollouts));
  app.use(opsRouter(src));
  app.use(notFound());
  app.use(errorHandler(src.logger));
  return app;
}

/** What an instance without the `api` role serves from (see {@link createOpsApp}). */
export type OpsAppSources = OpsSources & Pick<AppSources, "metrics" | "logger" | "edge" | "access">;

/**
 * The app of an instance that only ingests (roles without `api`): /healthz, /metrics and
 * /v1/pipeline, behind the same Host allow-list and token as the full app. Every other path is a
 * 404 that says the API is served by other instances.
 */
export function createOpsApp(src: OpsAppSources): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(securityHeaders());
  app.use(edgeMiddleware(src.edge));
  app.use(timing(src.metrics));
  app.use(tokenGuard(src.access));
  app.use(groupScopeGuard(ANALYTICS_ROUTE_SCOPES, express.Router));
  app.use(opsRouter(src));
  app.use(notFound("an ingest-only instance (KON_ANALYTICS_ROLES without api)"));
  app.use(errorHandler(src.logger));
  return app;
}

function notFound(where?: string): RequestHandler {
  return (req, res) => {
    const on = where === undefined ? "" : ` on ${where}`;
    res.status(404).json({
      error: { code: KonErrorCode.NotFound, message: `no route ${req.method} ${req.path}${on}` },
    });
  };
}

/**
 * The dashboard's files, for every path but the API's: serve-static looks each path up on disk
 * and builds an error when it is missing, which cost an API request ~0.5 ms of CPU (a third of
 * a cached page's) before the router was reached.
 */
function dashboardFiles(): RequestHandler {
  const files = express.static(DASHBOARD_DIR, { index: "index.html", maxAge: 0 });
  return (req, res, next) => {
    if (req.path.startsWith("/v1/") || req.path === "/metrics" || req.path === "/healthz") {
      return next();
    }
    files(req, res, next);
  };
}

function timing(metrics: AnalyticsMetrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpSeconds.startTimer();
    res.on("finish", () => {
      const route =
        (req.route as { path?: string } | undefined)?.path ??
        (req.path.startsWith("/v1") ? "unmatched" : "static");
      stop({ route, status: String(res.statusCode) });
    });
    next();
  };
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof KonError) {
      const status =
        err.code === KonErrorCode.QueryInvalid || err.code === KonErrorCode.InvalidName
          ? 400
          : err.code === KonErrorCode.NotFound
            ? 404
            : 500;
      res.status(status).json({ error: err.toJSON() });
      return;
    }
    // Express's own 4xx (malformed URL encoding and the like) carry a status.
    const status = (err as { status?: number }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      res.status(status).json({
        error: { code: KonErrorCode.QueryInvalid, message: String((err as Error).message) },
      });
      return;
    }
    // The cause stays in the log: a database error's text can quote data, a URL credentials.
    const id = randomUUID();
    logger.error(
      `${req.method} ${req.path} failed (error id ${id}): ${redactSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}`,
    );
    res.status(500).json({
      error: {
        code: KonErrorCode.Internal,
        message: `internal error (${failureText(err)}); the service log has the details under error id ${id}`,
      },
    });
  };
}
