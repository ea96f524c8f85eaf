import { CorsPolicy } from "./cors-policy";
import type { EdgeRefusal } from "./edge-refusal";
import { HostAllowList } from "./host-allow-list";

/** The parts of an HTTP request the edge looks at. */
export interface EdgeRequest {
  method: string;
  /** The Host header. */
  host: string | undefined;
  /** The port the connection arrived on. */
  localPort: number | undefined;
  /** The Origin header. */
  origin: string | undefined;
  /** Access-Control-Request-Method (present on a CORS preflight). */
  preflightMethod: string | undefined;
}

/** Headers to add to whatever answer the request gets, and an answer to give instead of a route. */
export interface EdgeVerdict {
  headers: Record<string, string>;
  answer?: EdgeRefusal | { status: 204; headers: Record<string, string> };
}

/**
 * The checks every Konorkestra HTTP service makes before any route, framework-free (each service
 * wraps it in a few lines of express middleware): the Host allow-list (DNS rebinding), then CORS
 * (off unless origins are configured). Throws at construction on a bad entry.
 */
export class HttpEdge {
  private readonly hosts: HostAllowList;
  private readonly cors: CorsPolicy;

  constructor(opts: { allowedHosts?: readonly string[]; corsOrigins?: readonly string[] } = {}) {
    this.hosts = new HostAllowList(opts.allowedHosts ?? []);
    this.cors = new CorsPolicy(opts.corsOrigins ?? []);
  }

  screen(req: EdgeRequest): EdgeVerdict {
    const misdirected = this.hosts.check(req.host, req.localPort);
    if (misdirected) return { headers: {}, answer: misdirected };
    const cors = this.cors.decide(req.method, req.origin, req.preflightMethod);
    return cors.preflight
      ? { headers: cors.headers, answer: cors.preflight }
      : { headers: cors.headers };
  }
}
