import type { AccessClaims } from "../auth/access-token";
import { sendEdgeAnswer } from "./edge-middleware";
import type { EdgeAnswerTarget } from "./edge-middleware";
import { groupScopeVerdict, undeclaredRouteRefusal } from "./group-scope";
import type { GroupScope } from "./group-scope";

/** A route of a service's API and how it scopes its answer by group (see {@link GroupScope}). */
export interface ScopedRoute {
  /** A path as the service's router writes its routes (`/v1/nodes/:group/:node`), GET and HEAD. */
  path: string;
  scope: GroupScope;
}

/**
 * The little of an HTTP request the guard reads; express's `Request` is one. `params` are the
 * matched route's (`:group`), `query` the parsed query string.
 */
export interface ScopeRequest {
  method: string;
  path: string;
  params: object;
  query: object;
}

/** The little of an HTTP response the guard uses; express's `Response` is one. */
export interface ScopeResponse extends EdgeAnswerTarget {
  /** Where the token guard before it put the verified claims, as `auth`. */
  locals: Record<string, unknown>;
}

/** `next()` goes on within the router; `next("router")` leaves it for the routes after it. */
export type ScopeNext = (leave?: "router") => void;

export type ScopeHandler = (req: ScopeRequest, res: ScopeResponse, next: ScopeNext) => void;

/**
 * The little of a router the guard is built on; express's `Router()` is one. The router matches
 * the declared paths, so a route is recognised exactly as the service's own routers match it.
 */
export interface ScopeRouter {
  use(handler: ScopeHandler): unknown;
  get(path: string, handler: ScopeHandler): unknown;
}

const GUARDS = new WeakSet<object>();

/** True for a router {@link groupScopeGuard} made (its declarations are not routes served). */
export function isGroupScopeGuard(handler: unknown): boolean {
  return typeof handler === "function" && GUARDS.has(handler);
}

/**
 * The `groups` claim of access tokens, for every route after the token guard (which puts the
 * verified claims in `res.locals.auth`), as a router made by `makeRouter` (express's `Router`):
 * a request naming a group the token is not for (`:group`, `?group=`) is refused as the admin
 * refuses it; a group-less list gets the token's group filled in as `?group=` (or asks a token of
 * several groups to name one); a fleet-wide answer, and any route not in `routes`, is refused to
 * limited tokens. Unlimited tokens (and no token, with KON_AUTH=off) pass untouched.
 */
export function groupScopeGuard<R extends ScopeRouter>(
  routes: readonly ScopedRoute[],
  makeRouter: () => R,
): R {
  const r = makeRouter();
  GUARDS.add(r);
  r.use((_req, res, next) => {
    const claims = res.locals.auth as AccessClaims | undefined;
    next(claims?.groups === undefined ? "router" : undefined);
  });
  for (const route of routes) r.get(route.path, scopeHandler(route.scope));
  r.use((req, res) => sendEdgeAnswer(res, undeclaredRouteRefusal(req.method, req.path)));
  return r;
}

function scopeHandler(scope: GroupScope): ScopeHandler {
  return (req, res, next) => {
    const claims = res.locals.auth as AccessClaims;
    const query = req.query as Record<string, unknown>;
    const v = groupScopeVerdict(claims, scope, {
      pathGroup: (req.params as { group?: string }).group,
      queryGroup: query.group,
    });
    if (!("ok" in v)) return sendEdgeAnswer(res, v);
    if (v.fillGroup !== undefined) {
      // express 5's req.query is a getter over the URL: an own property shadows it.
      Object.defineProperty(req, "query", {
        value: { ...query, group: v.fillGroup },
        configurable: true,
        enumerable: true,
        writable: true,
      });
    }
    next("router");
  };
}
