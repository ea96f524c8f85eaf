import type { EdgeRefusal, HttpEdge } from "@konorkestra/sdk/internal";
import {
  EdgeCode,
  WEBHOOK_SIGNATURE_HEADER,
  edgeRefusal,
  verifyWebhookSignature,
} from "@konorkestra/sdk/internal";
import type { RequestHandler, Response } from "express";

function answer(
  res: Response,
  a: EdgeRefusal | { status: 204; headers: Record<string, string> },
): void {
  res.set(a.headers);
  if ("body" in a) res.status(a.status).json(a.body);
  else res.status(a.status).end();
}

/** The sdk's Host allow-list and CORS check (`HttpEdge`), before any route. */
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
    if (v.answer) answer(res, v.answer);
    else next();
  };
}

/**
 * Lets a webhook through only when `X-Hub-Signature-256` is the HMAC-SHA256 of its raw body
 * (`req.body`, a Buffer from `express.raw`) under the shared secret: 401 otherwise, one answer
 * for a missing and a wrong signature. Without a secret the webhook is off (403).
 */
export function signedWebhook(secret: string | undefined): RequestHandler {
  return (req, res, next) => {
    if (secret === undefined) {
      return answer(
        res,
        edgeRefusal(
          403,
          EdgeCode.Forbidden,
          "the refresh webhook is off: the loader has no KON_LOADER_WEBHOOK_SECRET_FILE",
        ),
      );
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (verifyWebhookSignature(secret, body, req.get(WEBHOOK_SIGNATURE_HEADER))) return next();
    answer(
      res,
      edgeRefusal(
        401,
        EdgeCode.Unauthorized,
        `missing or wrong ${WEBHOOK_SIGNATURE_HEADER} (sha256=<hex HMAC-SHA256 of the body with the shared secret>)`,
      ),
    );
  };
}
