// The sdk's group-scope guard on a router of the shape express's has (the services run it on
// express itself: analytics' and the monitor's api-group-scope.int.test.ts). The router here
// matches literal segments and `:name` ones, which is all the declared paths use.
import { groupScopeGuard, isGroupScopeGuard } from "../src/internal";
import type { ScopeRouter, ScopedRoute } from "../src/internal";

type Handler = Parameters<ScopeRouter["use"]>[0];
type Req = Parameters<Handler>[0];
type Res = Parameters<Handler>[1];

/** A router by the {@link ScopeRouter} contract: layers in order, `next("router")` leaves it. */
class TinyRouter implements ScopeRouter {
  private readonly layers: { path?: string; handler: Handler }[] = [];
  use(handler: Handler): void {
    this.layers.push({ handler });
  }
  get(path: string, handler: Handler): void {
    this.layers.push({ path, handler });
  }
  /** Runs a request through the layers; true when it left the router for the routes after it. */
  run(req: Req, res: Res): boolean {
    for (const layer of this.layers) {
      const params = layer.path === undefined ? {} : match(layer.path, req.path);
      if (params === undefined) continue;
      req.params = params;
      let went: "on" | "left" | undefined;
      layer.handler(req, res, (leave) => (went = leave === "router" ? "left" : "on"));
      if (went !== "on") return went === "left";
    }
    return true;
  }
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, w] of want.entries()) {
    if (w.startsWith(":")) params[w.slice(1)] = decodeURIComponent(got[i]!);
    else if (w !== got[i]) return undefined;
  }
  return params;
}

const ROUTES: readonly ScopedRoute[] = [
  { path: "/v1/nodes", scope: "query" },
  { path: "/v1/nodes/:group/:node", scope: "path" },
  { path: "/metrics", scope: "all-groups" },
];

interface Outcome {
  /** The request reached the routes after the guard. */
  passed: boolean;
  status: number | undefined;
  body: { error?: { message?: string } } | undefined;
  query: Record<string, unknown>;
}

function request(path: string, groups: string[] | null, query: Record<string, unknown> = {}) {
  const guard = groupScopeGuard(ROUTES, () => new TinyRouter());
  const req: Req = { method: "GET", path, params: {}, query };
  let status: number | undefined;
  let body: string | undefined;
  const res: Res = {
    statusCode: 200,
    setHeader: () => undefined,
    end: (b?: string) => {
      status = res.statusCode;
      body = b;
    },
    // null: no token checked (KON_AUTH=off); [] never occurs (the token guard refuses it).
    locals: groups === null ? {} : { auth: { sub: "t", scopes: ["read"], groups } },
  };
  const passed = guard.run(req, res);
  return {
    passed: passed && status === undefined,
    status,
    body: body === undefined ? undefined : (JSON.parse(body) as Outcome["body"]),
    query: req.query as Record<string, unknown>,
  } satisfies Outcome;
}

test("a token limited to groups is refused a route that declared no scope", () => {
  const o = request("/v1/undeclared", ["shop"]);
  expect(o.passed).toBe(false);
  expect(o.status).toBe(403);
  expect(o.body?.error?.message).toMatch(/GET \/v1\/undeclared does not say which groups/);
});

test("a declared route passes for the token's own group and is refused for another's", () => {
  expect(request("/v1/nodes/shop/n1", ["shop"])).toMatchObject({ passed: true });
  const other = request("/v1/nodes/demo/n1", ["shop"]);
  expect(other).toMatchObject({ passed: false, status: 403 });
  expect(other.body?.error?.message).toBe("this token is not for this group");
});

test("a group-less list gets the token's one group filled in as ?group=", () => {
  const o = request("/v1/nodes", ["shop"], { limit: "5" });
  expect(o).toMatchObject({ passed: true, query: { limit: "5", group: "shop" } });
  expect(request("/v1/nodes", ["shop", "demo"])).toMatchObject({ passed: false, status: 403 });
  expect(request("/v1/nodes", ["shop"], { group: "demo" })).toMatchObject({ status: 403 });
});

test("fleet-wide routes are refused to limited tokens; unlimited tokens pass everything", () => {
  expect(request("/metrics", ["shop"])).toMatchObject({ passed: false, status: 403 });
  for (const path of ["/metrics", "/v1/undeclared", "/v1/nodes/demo/n1"]) {
    expect(request(path, null)).toMatchObject({ passed: true });
  }
  expect(request("/v1/nodes", null).query).toEqual({});
});

test("the guard's router is told apart from the service's own routers", () => {
  const router = (): ScopeRouter & ((...a: unknown[]) => void) =>
    Object.assign(() => undefined, { use: () => undefined, get: () => undefined });
  expect(isGroupScopeGuard(groupScopeGuard(ROUTES, router))).toBe(true);
  expect(isGroupScopeGuard(router())).toBe(false);
});
