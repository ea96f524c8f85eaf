import { sendEdgeAnswer } from "@konorkestra/sdk/internal";
import type { AccessGate } from "@konorkestra/sdk/internal";
import type { RequestHandler } from "express";

/** Paths anyone may ask for: the load balancer's and `make up`'s health check. */
const OPEN_PATHS = new Set(["/healthz"]);

const refuse = sendEdgeAnswer;

/**
 * Requires an access token with the gate's scope on every path but `/healthz` (401 / 403 / 503
 * as `AccessGate` decides). Without a gate (KON_AUTH=off) every request passes.
 */
export function tokenGuard(gate: AccessGate | undefined): RequestHandler {
  return (req, res, next) => {
    if (!gate || OPEN_PATHS.has(req.path)) return next();
    const r = gate.check(req.get("authorization"));
    if ("claims" in r) {
      res.locals.auth = r.claims;
      return next();
    }
    refuse(res, r);
  };
}
