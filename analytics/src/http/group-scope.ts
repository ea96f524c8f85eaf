import {
  groupScopeVerdict,
  sendEdgeAnswer,
  undeclaredRouteRefusal,
} from "@konorkestra/sdk/internal";
import type { AccessClaims, GroupScope } from "@konorkestra/sdk/internal";
import { Router } from "express";
import type { RequestHandler } from "express";

/** A route of the API and how it scopes its answer by group (see `GroupScope` in the sdk). */
export interface ScopedRoute {
  /** An express path, matched as the routers match theirs (GET and HEAD). */
  path: string;
  scope: GroupScope;
}

/**
 * Every route analytics serves to token holders, with its group scope. A route missing here is
 * refused (403) to tokens limited to groups: add it, with the scope its query really applies,
 * and to test/api-group-scope.int.test.ts.
 */
export const ANALYTICS_ROUTE_SCOPES: readonly ScopedRoute[] = [
  { path: "/v1/fleet/summary", scope: "query" },
  { path: "/v1/nodes", scope: "query" },
  { path: "/v1/nodes/:group/:node", scope: "path" },
  { path: "/v1/nodes/:group/:node/uptime", scope: "path" },
  { path: "/v1/nodes/:group/:node/timeline", scope: "path" },
  { path: "/v1/uptime", scope: "query" },
  { path: "/v1/incidents", scope: "query" },
  { path: "/v1/reliability", scope: "query" },
  { path: "/v1/series/heartbeats", scope: "query" },
  { path: "/v1/config/drift", scope: "query" },
  { path: "/v1/config/drift/summary", scope: "query" },
  { path: "/v1/config/history", scope: "query" },
  { path: "/v1/config/rejections", scope: "query" },
  { path: "/v1/rollouts", scope: "query" },
  // Fleet-wide aggregates: the ingest of every group, counters of every group.
  { path: "/v1/pipeline", scope: "all-groups" },
  { path: "/metrics", scope: "all-groups" },
];

const GUARDS = new WeakSet<object>();

/** True for a router {@link groupScopeGuard} made (its declarations are not routes served). */
export function isGroupScopeGuard(handler: unknown): boolean {
  return typeof handler === "function" && GUARDS.has(handler);
}

/**
 * The `groups` claim of access tokens, for every route after the token guard (which puts the
 * verified claims in `res.locals.auth`): a request naming a group the token is not for (`:group`,
 * `?group=`) is refused as the admin refuses it; a group-less list gets the token's group filled
 * in as `?group=` (or asks a token of several groups to name one); a fleet-wide answer, and any
 * route not in `routes`, is refused to limited tokens. Unlimited tokens (and no token, with
 * KON_AUTH=off) pass untouched.
 */
export function groupScopeGuard(routes: readonly ScopedRoute[]): Router {
  const r = Router();
  GUARDS.add(r);
  r.use((_req, res, next) => {
    const claims = res.locals.auth as AccessClaims | undefined;
    next(claims?.groups === undefined ? "router" : undefined);
  });
  for (const route of routes) r.get(route.path, decide(route.scope));
  r.use((req, res) => sendEdgeAnswer(res, undeclaredRouteRefusal(req.method, req.path)));
  return r;
}

function decide(scope: GroupScope): RequestHandler {
  return (req, res, next) => {
    const claims = res.locals.auth as AccessClaims;
    const v = groupScopeVerdict(claims, scope, {
      pathGroup: (req.params as { group?: string }).group,
      queryGroup: (req.query as Record<string, unknown>).group,
    });
    if (!("ok" in v)) return sendEdgeAnswer(res, v);
    if (v.fillGroup !== undefined) {
      // express 5's req.query is a getter over the URL: an own property shadows it.
      Object.defineProperty(req, "query", {
        value: { ...(req.query as Record<string, unknown>), group: v.fillGroup },
        configurable: true,
        enumerable: true,
        writable: true,
      });
    }
    next("router");
  };
}
