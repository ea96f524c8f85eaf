import type { AccessGate, EdgeRefusal, HttpEdge } from "@konorkestra/sdk/internal";
import type { RequestHandler, Response } from "express";

/** Paths anyone may ask for: the load balancer's and `make up`'s health check. */
const OPEN_PATHS = new Set(["/healthz"]);

function refuse(
  res: Response,
  answer: EdgeRefusal | { status: 204; headers: Record<string, string> },
): void {
  res.set(answer.headers);
  if ("body" in answer) res.status(answer.status).json(answer.body);
  else res.status(answer.status).end();
}

/** The sdk's Host allow-list and CORS check (`HttpEdge`), before anything else. */
export function edgeGuard(edge: HttpEdge): RequestHandler {
  return (req, res, next) => {
    const v = edge.screen({
      method: req.method,
      host: req.headers.host,
      localPort: req.socket.localPort,
      origin: req.get("origin"),
      preflightMethod: req.get("access-control-request-method"),
    });
    res.set(v.headers);
    if (v.answer) refuse(res, v.answer);
    else next();
  };
}

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
