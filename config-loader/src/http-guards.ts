import {
  EdgeCode,
  sendEdgeAnswer,
  WEBHOOK_SIGNATURE_HEADER,
  edgeRefusal,
  verifyWebhookSignature,
} from "@konorkestra/sdk/internal";
import type { RequestHandler } from "express";

const answer = sendEdgeAnswer;

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
