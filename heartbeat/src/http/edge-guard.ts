import type { HttpEdge } from "@konorkestra/sdk/internal";
import type { RequestHandler } from "express";

/** The sdk's Host allow-list and CORS check (`HttpEdge`), before any route of the monitor. */
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
    if (!v.answer) return next();
    res.set(v.answer.headers);
    if ("body" in v.answer) res.status(v.answer.status).json(v.answer.body);
    else res.status(v.answer.status).end();
  };
}
