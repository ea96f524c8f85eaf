import { sendEdgeAnswer } from "@konorkestra/sdk/internal";
import type { AccessGate } from "@konorkestra/sdk/internal";
import type { RequestHandler } from "express";
import { KonErrorCode } from "@konorkestra/sdk";
import { HttpError, sendError } from "./http-error";

/**
 * Who may read the monitor's API (`/v1/nodes`, `/metrics`): a `read` access token checked by the
 * gate; `off` (KON_AUTH=off, local development) lets anyone; `closed` (no public key configured)
 * refuses everyone and says what to set. HTTP ingest authenticates on its own, with join keys.
 */
export type ApiAccess = AccessGate | "off" | "closed";

export function tokenGuard(access: ApiAccess): RequestHandler {
  return (req, res, next) => {
    if (access === "off") return next();
    if (access === "closed") {
      sendError(
        res,
        new HttpError(
          401,
          KonErrorCode.Unauthorized,
          "this monitor's API needs access tokens and has no key to check them: set KON_AUTH_PUBLIC_KEY_FILE (or KON_AUTH=off for local development)",
        ),
      );
      return;
    }
    const r = access.check(req.get("authorization"));
    if ("claims" in r) {
      // For the group scope guard (group-scope.ts), which runs next.
      res.locals.auth = r.claims;
      return next();
    }
    sendEdgeAnswer(res, r);
  };
}
