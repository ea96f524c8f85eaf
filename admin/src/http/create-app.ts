import express from "express";
import type { Express, RequestHandler } from "express";
import type { Logger } from "@konorkestra/sdk";
import { edgeMiddleware, securityHeaders } from "@konorkestra/sdk/internal";
import type { HttpEdge } from "@konorkestra/sdk/internal";
import type { ConfigApi } from "../config-api/config-api";
import { configRouter } from "../config-api/config-router";
import type { Accounts } from "../domain/accounts";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import type { ApiTokens } from "../domain/api-tokens";
import type { Groups } from "../domain/groups";
import type { AdminMetrics } from "../metrics";
import type { AuditStore } from "../store/audit-store";
import { auditRouter } from "./audit-router";
import { authRouter } from "./auth-router";
import { groupRouter } from "./group-router";
import { errorHandler, sendError } from "./http-error";
import { requireAllGroups, requireScope } from "./request-auth";
import type { RequestAuthDeps } from "./request-auth";
import { tokenRouter } from "./token-router";

export interface AppSources {
  /** The config API (`/v1/groups/:group/configs/…`). */
  config?: ConfigApi;
  accounts: Accounts;
  groups: Groups;
  apiTokens: ApiTokens;
  audit: AuditStore;
  auth: RequestAuthDeps;
  metrics: AdminMetrics;
  logger: Logger;
  /** For /healthz: is PostgreSQL answering, is NATS connected. */
  health: () => Promise<{ postgres: boolean; nats: boolean }>;
  /** Host allow-list (against DNS rebinding) and CORS, before every route. */
  edge: HttpEdge;
}

/** Largest request body: every admin request is a few small fields. */
const BODY_LIMIT = 16 * 1024;

/**
 * The admin API. `/healthz` is open; sign-up, sign-in, refresh and sign-out are open (they are how
 * one gets a token) and rate-limited; everything else, `/metrics` and unknown paths included,
 * needs a token.
 */
export function createApp(src: AppSources): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(securityHeaders());
  app.use(timing(src.metrics));
  app.use(edgeMiddleware(src.edge));
  app.get("/healthz", async (_req, res) => {
    const h = await src.health();
    res
      .status(h.postgres && h.nats ? 200 : 503)
      .json({ status: h.postgres && h.nats ? "ok" : "degraded", ...h });
  });
  // Before the small-body parser: config writes carry values (their routes parse up to 4 MiB).
  if (src.config) {
    app.use(
      configRouter({
        writer: src.config.writer,
        reader: src.config.reader,
        compaction: src.config.compaction,
        auth: src.auth,
        audit: src.audit,
        metrics: src.metrics,
        logger: src.logger,
      }),
    );
  }
  app.use(express.json({ limit: BODY_LIMIT, strict: true }));
  app.use(authRouter(src.accounts, src.auth, src.audit, src.logger));
  app.use(groupRouter(src.groups, src.auth, src.audit, src.logger));
  app.use(tokenRouter(src.apiTokens, src.auth, src.audit, src.logger));
  app.use(auditRouter(src.audit, src.auth));
  // Fleet-wide counters (callouts, join-key checks, routes of every group): unlimited tokens only.
  app.get("/metrics", requireScope(src.auth, "read"), requireAllGroups(), async (_req, res) => {
    res.type(src.metrics.registry.contentType).send(await src.metrics.registry.metrics());
  });
  // Unknown paths answer 404 only to a caller with a token, so routes cannot be mapped without one.
  app.use(requireScope(src.auth, "read"), (req, res) => {
    sendError(res, new AdminError(AdminErrorCode.NotFound, `no route ${req.method} ${req.path}`));
  });
  app.use(errorHandler(src.logger));
  return app;
}

function timing(metrics: AdminMetrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpSeconds.startTimer();
    res.on("finish", () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? "unmatched";
      stop({ route, status: String(res.statusCode) });
    });
    next();
  };
}
