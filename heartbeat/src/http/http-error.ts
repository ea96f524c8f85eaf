import type { ErrorRequestHandler, Response } from "express";
import { InvalidNameError, KonError, KonErrorCode } from "@konorkestra/sdk";
import { invalidNameMessage } from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";

/** An error with the HTTP status it answers with; the body is `{ error: { code, message } }`. */
export class HttpError extends KonError {
  constructor(
    readonly status: number,
    code: KonErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(code, message);
  }
}

/** Writes the JSON error body every route of the monitor uses. */
export function sendError(res: Response, err: HttpError): void {
  const body: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.details !== undefined) body.details = err.details;
  res.status(err.status).json({ error: body });
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
  length?: number;
}

/** Last handler: body-parser failures and coded errors become clear JSON, the rest a 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof HttpError) return sendError(res, err);
    const bp = err as BodyParserError;
    if (bp?.type === "entity.too.large") {
      const msg = `request body is ${bp.length ?? "over"} bytes; the limit is ${bp.limit} bytes`;
      return sendError(res, new HttpError(413, KonErrorCode.PayloadTooLarge, msg));
    }
    if (bp?.type === "charset.unsupported" || bp?.type === "encoding.unsupported") {
      // body-parser's message names the charset or encoding it refused.
      const msg = `${(err as Error).message}; send UTF-8 JSON (charset=utf-8) without content encoding`;
      return sendError(res, new HttpError(415, KonErrorCode.InvalidHeartbeat, msg));
    }
    if (err instanceof URIError) {
      // Express could not decode a path parameter (`%ff`): the client's mistake.
      const msg = `bad percent-encoding in the path: ${err.message}`;
      return sendError(res, new HttpError(400, KonErrorCode.InvalidName, msg));
    }
    if (bp?.type === "entity.parse.failed") {
      const msg = `request body is not valid JSON: ${(err as Error).message}`;
      return sendError(res, new HttpError(400, KonErrorCode.InvalidHeartbeat, msg));
    }
    if (err instanceof KonError && err.code === KonErrorCode.InvalidName) {
      // A refused name is quoted cut short: a 5,000-character node id is not sent back.
      const msg = err instanceof InvalidNameError ? invalidNameMessage(err) : err.message;
      return sendError(res, new HttpError(400, err.code, msg));
    }
    logger.error(`http: ${String(err)}`);
    sendError(res, new HttpError(500, KonErrorCode.Internal, "internal error"));
  };
}
