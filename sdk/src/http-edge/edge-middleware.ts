import type { IncomingMessage, ServerResponse } from "node:http";
import type { EdgeRefusal } from "./edge-refusal";
import type { HttpEdge } from "./http-edge";

/** The little of node's `ServerResponse` an edge answer is written with. */
export interface EdgeAnswerTarget {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/** Writes an edge answer: a refusal's JSON body, or a bodiless answer (a CORS preflight's 204). */
export function sendEdgeAnswer(
  res: EdgeAnswerTarget,
  answer: EdgeRefusal | { status: number; headers: Record<string, string> },
): void {
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  res.statusCode = answer.status;
  if ("body" in answer) {
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify(answer.body));
  } else {
    res.end();
  }
}

/**
 * The Host allow-list and CORS check of {@link HttpEdge} as a middleware for node's HTTP server
 * (express takes it as is), run before every route of every service.
 */
export function edgeMiddleware(
  edge: HttpEdge,
): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const v = edge.screen({
      method: req.method ?? "GET",
      host: req.headers.host,
      localPort: req.socket.localPort,
      origin: header("origin"),
      preflightMethod: header("access-control-request-method"),
    });
    for (const [k, val] of Object.entries(v.headers)) res.setHeader(k, val);
    if (v.answer) sendEdgeAnswer(res, v.answer);
    else next();
  };
}
