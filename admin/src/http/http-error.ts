import type { ErrorRequestHandler, Response } from "express";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { AdminError, AdminErrorCode } from "../domain/admin-error";

const STATUS: Record<AdminErrorCode, number> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNPROCESSABLE: 422,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/**
 * Writes the error body every admin route uses, `{ error: { code, message, details } }` (the
 * shape of the monitor's and analytics' errors), with `Retry-After` on 429 and
 * `WWW-Authenticate` on 401.
 */
export function sendError(res: Response, err: AdminError): void {
  const status = STATUS[err.code];
  if (err.retryAfterMs !== undefined) {
    res.setHeader("Retry-After", String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
  }
  if (status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="konorkestra"');
  res.locals.errorCode = err.code;
  res
    .status(status)
    .json({ error: { code: err.code, message: err.message, details: err.details ?? {} } });
}

interface BodyParserError {
  type?: string;
  limit?: number;
}

/**
 * Last handler: coded errors as they are; body-parser failures as 413/400; invalid names from the
 * sdk as 400; anything else a 500 whose body says nothing of the cause (it is logged).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof AdminError) return sendError(res, err);
    const bp = err as BodyParserError;
    if (bp?.type === "entity.too.large") {
      return sendError(
        res,
        new AdminError(AdminErrorCode.PayloadTooLarge, `request body over ${bp.limit} bytes`, {
          limit: bp.limit,
        }),
      );
    }
    if (bp?.type === "entity.parse.failed" || bp?.type === "encoding.unsupported") {
      return sendError(
        res,
        new AdminError(AdminErrorCode.InvalidInput, "request body is not valid JSON"),
      );
    }
    if (err instanceof KonError && err.code === KonErrorCode.InvalidName) {
      return sendError(res, new AdminError(AdminErrorCode.InvalidInput, err.message));
    }
    // The message of an unexpected error may quote anything (a query, a URL): log it, do not send it.
    logger.error(
      `${req.method} ${req.path} failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    sendError(res, new AdminError(AdminErrorCode.Internal, "internal error"));
  };
}
