import { groupAllowed } from "../auth/access-token";
import type { AccessClaims } from "../auth/access-token";
import { EdgeCode, edgeRefusal } from "./edge-refusal";
import type { EdgeRefusal } from "./edge-refusal";

/**
 * How a read route of a service other than the admin scopes its answer by group, for tokens
 * limited to groups (the `groups` claim, see {@link groupAllowed}):
 * - `path`: the route names one group in its path (`:group`); another group's is refused.
 * - `query`: the route lists rows of every group unless a `group` query parameter names one. A
 *   limited token must name one of its own; without one it gets its group filled in when it has
 *   exactly one, and is refused (asked to name one) when it has several.
 * - `all-groups`: the answer covers every group at once (a fleet-wide aggregate, /metrics):
 *   refused to limited tokens.
 * A route that declared nothing is refused to limited tokens (see {@link undeclaredRouteRefusal}).
 */
export type GroupScope = "path" | "query" | "all-groups";

/** What a route may do for a token, or the answer to give instead. */
export type GroupScopeVerdict = { ok: true; fillGroup?: string } | EdgeRefusal;

/** The refusal of a route about a group the token is not for (as the admin's routes answer). */
export function notForGroupRefusal(group: string): EdgeRefusal {
  return edgeRefusal(403, EdgeCode.Forbidden, "this token is not for this group", {}, { group });
}

/**
 * Decides a request to a route declared with `scope`, for a token's `claims` (undefined: no token
 * checked, e.g. KON_AUTH=off: everything passes). `pathGroup` is the route's `:group`;
 * `queryGroup` the `group` query parameter's value(s) as the request gave them.
 */
export function groupScopeVerdict(
  claims: Pick<AccessClaims, "groups"> | undefined,
  scope: GroupScope,
  named: { pathGroup?: unknown; queryGroup?: unknown },
): GroupScopeVerdict {
  if (claims?.groups === undefined) return { ok: true };
  const queryGroups: unknown[] =
    named.queryGroup === undefined
      ? []
      : Array.isArray(named.queryGroup)
        ? (named.queryGroup as unknown[])
        : [named.queryGroup];
  for (const g of [...queryGroups, ...(named.pathGroup === undefined ? [] : [named.pathGroup])]) {
    if (typeof g !== "string" || !groupAllowed(claims, g)) return notForGroupRefusal(String(g));
  }
  if (scope === "all-groups") {
    return edgeRefusal(
      403,
      EdgeCode.Forbidden,
      "this answer covers every group; a token limited to groups cannot read it",
      {},
      { groups: claims.groups },
    );
  }
  if (scope === "path") {
    return named.pathGroup === undefined
      ? edgeRefusal(403, EdgeCode.Forbidden, "this route names no group", {}, {})
      : { ok: true };
  }
  if (queryGroups.length > 0) return { ok: true };
  if (claims.groups.length === 1) return { ok: true, fillGroup: claims.groups[0]! };
  return edgeRefusal(
    403,
    EdgeCode.Forbidden,
    `this token is for groups ${claims.groups.join(", ")}: name one with ?group=`,
    {},
    { groups: claims.groups },
  );
}

/** The answer to a limited token on a route that did not declare how it scopes by group. */
export function undeclaredRouteRefusal(method: string, path: string): EdgeRefusal {
  return edgeRefusal(
    403,
    EdgeCode.Forbidden,
    `${method} ${path} does not say which groups it shows, so a token limited to groups cannot use it`,
    {},
    {},
  );
}
