// Every route the analytics apps serve is declared in ANALYTICS_ROUTE_SCOPES (group-scope.ts):
// an undeclared one would be refused to tokens limited to groups, so a route added without a
// declaration fails here rather than in a user's hands. Walks express's own route table.
import { silentLogger } from "@konorkestra/sdk";
import { isGroupScopeGuard } from "@konorkestra/sdk/internal";
import { createApp, createOpsApp } from "../src/http/create-app";
import type { AppSources } from "../src/http/create-app";
import { ANALYTICS_ROUTE_SCOPES } from "../src/http/group-scope";

interface Layer {
  route?: { path: string };
  handle?: { stack?: Layer[] };
}

/** Paths of the routes in an express app's stack, nested routers included. */
function routePaths(stack: Layer[], out = new Set<string>()): Set<string> {
  for (const layer of stack) {
    if (isGroupScopeGuard(layer.handle)) continue;
    if (layer.route) out.add(layer.route.path);
    else if (layer.handle?.stack) routePaths(layer.handle.stack, out);
  }
  return out;
}

const OPEN = new Set(["/healthz"]);
const sources = { logger: silentLogger, apiCacheMs: 0 } as unknown as AppSources;

test.each([
  ["the API app", () => createApp(sources)],
  ["the ingest-only app", () => createOpsApp(sources)],
])("%s serves no route without a group scope", (_name, make) => {
  const app = make() as unknown as { router: { stack: Layer[] } };
  const served = [...routePaths(app.router.stack)].filter((p) => !OPEN.has(p));
  const declared = new Set(ANALYTICS_ROUTE_SCOPES.map((r) => r.path));
  expect(served.length).toBeGreaterThan(0);
  expect(served.filter((p) => !declared.has(p))).toEqual([]);
});
