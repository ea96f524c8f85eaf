import type { RequestHandler, Response } from "express";
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
}

/** Claims of the request's verified token (set by {@link requireScope}). */
export function authOf(res: Response): AccessClaims | undefined {
  return res.locals.auth as AccessClaims | undefined;
}

/**
 * Requires a valid bearer token holding `scope`: 401 when there is none or it is malformed,
 * badly signed, expired or revoked (one message, no hint which); 403 when valid but too narrow.
 * The check happens before the route looks anything up, so without rights nothing is revealed.
 */
export function requireScope(deps: RequestAuthDeps, scope: Scope): RequestHandler {
  return (req, res, next) => {
    void (async () => {
      const header = req.headers.authorization ?? "";
      const m = /^Bearer ([^\s]+)$/i.exec(header);
      if (!m) throw unauthorized("a bearer token is required");
      const verdict = deps.signer.verify(m[1]!, {
        requiredScope: scope,
        isRevoked: (jti) => deps.revocations?.has(jti) ?? false,
      });
      if (!verdict.ok) {
        if (verdict.reason === "insufficient_scope") {
          throw new AdminError(AdminErrorCode.Forbidden, `this needs the '${scope}' scope`, {
            requiredScope: scope,
          });
        }
        throw unauthorized("the token is not valid");
      }
      if (verdict.claims.typ === "api" && (await deps.apiTokens.isRevoked(verdict.claims.jti))) {
        throw unauthorized("the token is not valid");
      }
      res.locals.auth = verdict.claims;
    })().then(() => next(), next);
  };
}

function unauthorized(message: string): AdminError {
  return new AdminError(AdminErrorCode.Unauthorized, message);
}
