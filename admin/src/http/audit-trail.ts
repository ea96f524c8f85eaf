import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "@konorkestra/sdk";
import type { AuditStore } from "../store/audit-store";
import { authOf } from "./request-auth";

/** The client address a request came from (the socket's; no proxy headers are trusted). */
export function sourceOf(req: Request): string {
  return req.socket.remoteAddress ?? "";
}

/**
 * Records the action in the audit table when the response is finished, whatever the outcome:
 * who (the token's admin, else the email typed, else `anonymous`), what, target, source and
 * result (`ok`, `refused:<status>`, `error:<status>`, with the error code as detail). Put first
 * in a route's chain so refusals by authentication are recorded too. A handler that learns its
 * target late (a new token's id) sets `res.locals.target`; one with a non-secret note on a
 * success sets `res.locals.auditDetail`.
 */
export function audited(
  audit: AuditStore,
  logger: Logger,
  action: string,
  target: (req: Request, res: Response) => string = () => "",
): RequestHandler {
  return (req, res, next) => {
    // Route parameters are only set while the route runs: read the target now.
    const early = target(req, res);
    res.on("finish", () => {
      const status = res.statusCode;
      const result = status < 400 ? "ok" : `${status < 500 ? "refused" : "error"}:${status}`;
      const actor = authOf(res)?.sub ?? (res.locals.actor as string | undefined) ?? "anonymous";
      audit
        .record({
          actor,
          action,
          target: safeTarget((res.locals.target as string | undefined) ?? early),
          source: sourceOf(req),
          result,
          detail:
            (res.locals.errorCode as string | undefined) ??
            (res.locals.auditDetail as string | undefined) ??
            "",
        })
        .catch((err: unknown) => logger.error(`audit write failed (${action}): ${String(err)}`));
    });
    next();
  };
}

/** Targets come from requests: keep them short and printable. */
function safeTarget(t: unknown): string {
  return typeof t === "string" ? t.replace(/[^\x20-\x7e]/g, "?").slice(0, 200) : "";
}
