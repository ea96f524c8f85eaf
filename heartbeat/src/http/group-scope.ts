import type { ScopedRoute } from "@konorkestra/sdk/internal";

/**
 * Every route the monitor serves to token holders, with its group scope, for the sdk's
 * `groupScopeGuard`. A route missing here is refused (403) to tokens limited to groups: add it,
 * with the scope it really applies, and to test/api-group-scope.int.test.ts. (HTTP ingest
 * authenticates with join keys, not tokens.)
 */
export const MONITOR_ROUTE_SCOPES: readonly ScopedRoute[] = [
  { path: "/v1/nodes", scope: "query" },
  { path: "/v1/nodes/:group/:node", scope: "path" },
  // Counters of every group.
  { path: "/metrics", scope: "all-groups" },
];
