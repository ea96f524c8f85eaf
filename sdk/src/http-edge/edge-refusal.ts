/**
 * Codes of the answers the HTTP edge gives before a route runs. They travel in the body every
 * Konorkestra service uses for errors, `{ error: { code, message, details } }`.
 */
export const EdgeCode = {
  Unauthorized: "UNAUTHORIZED",
  Forbidden: "FORBIDDEN",
  HostNotAllowed: "HOST_NOT_ALLOWED",
  OriginNotAllowed: "ORIGIN_NOT_ALLOWED",
  AuthUnavailable: "AUTH_UNAVAILABLE",
} as const;
export type EdgeCode = (typeof EdgeCode)[keyof typeof EdgeCode];

/** An answer the edge gives instead of the route: status, headers and the JSON body. */
export interface EdgeRefusal {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: EdgeCode; message: string; details: Record<string, unknown> } };
}

export function edgeRefusal(
  status: number,
  code: EdgeCode,
  message: string,
  headers: Record<string, string> = {},
  details: Record<string, unknown> = {},
): EdgeRefusal {
  return { status, headers, body: { error: { code, message, details } } };
}
