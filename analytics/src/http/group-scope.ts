import type { ScopedRoute } from "@konorkestra/sdk/internal";

/**
 * Every route analytics serves to token holders, with its group scope, for the sdk's
 * `groupScopeGuard`. A route missing here is refused (403) to tokens limited to groups: add it,
 * with the scope its query really applies, and to test/api-group-scope.int.test.ts.
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
