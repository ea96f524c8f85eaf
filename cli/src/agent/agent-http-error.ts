import type { ServerResponse } from "node:http";

/** Stable codes of the agent's HTTP errors; clients match on these, never on message text. */
export const AgentErrorCode = {
  InvalidInput: "INVALID_INPUT",
  NotFound: "NOT_FOUND",
  MethodNotAllowed: "METHOD_NOT_ALLOWED",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  RateLimited: "RATE_LIMITED",
  Unavailable: "UNAVAILABLE",
  Internal: "INTERNAL",
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

const STATUS: Record<AgentErrorCode, number> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** An answer the agent gives on purpose: the status follows from the code. */
export class AgentHttpError extends Error {
  readonly status: number;

  constructor(
    readonly code: AgentErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "AgentHttpError";
    this.status = STATUS[code];
  }
}

/** Writes `body` as JSON with `status`. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = Buffer.from(`${JSON.stringify(body)}\n`, "utf8");
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(data.length),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(data);
}

/** Writes `{error:{code,message,details}}`; anything not an AgentHttpError is a bare 500. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e =
    err instanceof AgentHttpError
      ? err
      : new AgentHttpError(AgentErrorCode.Internal, "internal error (see the agent's log)");
  sendJson(
    res,
    e.status,
    { error: { code: e.code, message: e.message, details: e.details } },
    e.headers,
  );
}
