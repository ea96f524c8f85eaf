import type { RequestHandler, Response } from "express";
import { groupAllowed, groupScopeVerdict, scopeAllows } from "@konorkestra/sdk/internal";
import type { AccessClaims, RevocationList, Scope } from "@konorkestra/sdk/internal";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import type { ApiTokens } from "../domain/api-tokens";
import type { TokenSigner } from "../domain/token-signer";

/** What checks a request's bearer token. */
export interface RequestAuthDeps {
  signer: TokenSigner;
  apiTokens: ApiTokens;
  /** The revocation list other services follow; checked too, the database being authoritative. */
  revocations?: RevocationList;
  /** Ended sessions, from the database (a session token's `sid` is its refresh family). */
  sessions?: { familyEnded(sessionId: string): Promise<boolean> };
}

/** Claims of the request's verified token (set by {@link requireScope}). */
export function authOf(res: Response): AccessClaims | undefined {
  return res.locals.auth as AccessClaims | undefined;
}

/**
 * Requires a valid bearer token holding `scope`: 401 when there is none or it is malformed,
 * badly signed, expired or revoked (one message, no hint which); 403 when valid but too narrow,
 * or when the route names a group (`:group`) the token is not limited to. The check happens
 * before the route looks anything up, so without rights nothing is revealed.
 */
export function requireScope(deps: RequestAuthDeps, scope: Scope): RequestHandler {
  return (req, res, next) => {
    void (async () => {
      const header = req.headers.authorization ?? "";
      const m = /^Bearer ([^\s]+)$/i.exec(header);
      if (!m) throw unauthorized("a bearer token is required");
      const verdict = deps.signer.verify(m[1]!, {
        isRevoked: (jti) => deps.revocations?.has(jti) ?? false,
      });
      if (!verdict.ok) throw unauthorized("the token is not valid");
      const c = verdict.claims;
      if (c.typ === "api" && (await deps.apiTokens.isRevoked(c.jti))) {
        throw unauthorized("the token is not valid");
      }
      if (c.typ === "session" && c.sid && (await deps.sessions?.familyEnded(c.sid))) {
        throw unauthorized("the token is not valid");
      }
      // Known from here on, so the audit names who was refused for lack of scope.
      res.locals.actor = verdict.claims.sub;
      if (!scopeAllows(verdict.claims.scopes, scope)) {
        throw new AdminError(AdminErrorCode.Forbidden, `this needs the '${scope}' scope`, {
          requiredScope: scope,
        });
      }
      const group = (req.params as { group?: unknown }).group;
      if (typeof group === "string" && !groupAllowed(verdict.claims, group)) {
        throw new AdminError(AdminErrorCode.Forbidden, "this token is not for this group", {
          group,
        });
      }
      res.locals.auth = verdict.claims;
    })().then(() => next(), next);
  };
}

/**
 * After {@link requireScope}: refuses an answer that covers every group at once (`/metrics`, whose
 * counters span the fleet) to a token limited to groups, by the sdk's group-scope rule
 * (`all-groups`), with the 403 analytics and the monitor give for theirs.
 */
export function requireAllGroups(): RequestHandler {
  return (_req, res, next) => {
    const verdict = groupScopeVerdict(authOf(res), "all-groups", {});
    if ("ok" in verdict) return next();
    const { message, details } = verdict.body.error;
    next(new AdminError(AdminErrorCode.Forbidden, message, details));
  };
}

function unauthorized(message: string): AdminError {
  return new AdminError(AdminErrorCode.Unauthorized, message);
}
