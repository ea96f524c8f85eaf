import { EdgeCode, edgeRefusal } from "./edge-refusal";
import type { EdgeRefusal } from "./edge-refusal";

/** What the CORS check decided for one request. */
export interface CorsDecision {
  /** Headers to add to the answer (none unless the origin is allowed). */
  headers: Record<string, string>;
  /** Set for a preflight: answer it with this instead of running a route. */
  preflight?: EdgeRefusal | { status: 204; headers: Record<string, string> };
}

/** Headers a browser may send cross-origin to a Konorkestra API. */
const ALLOWED_HEADERS = "Authorization, Content-Type, X-Kon-Join-Key, X-Hub-Signature-256";
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/;

/**
 * Cross-origin access, off unless configured (`KON_HTTP_CORS_ORIGINS`): with no origins
 * configured no CORS header is ever sent, so browsers keep pages of other origins from reading
 * answers. A configured origin gets its own name back (never `*`) and `Vary: Origin`. Tokens
 * travel in the Authorization header, not cookies, so credentials mode is not allowed.
 */
export class CorsPolicy {
  private readonly origins: Set<string>;

  /** Throws an Error naming the bad origin. */
  constructor(origins: readonly string[] = []) {
    for (const o of origins) {
      if (!ORIGIN.test(o)) {
        throw new Error(
          `invalid CORS origin ${JSON.stringify(o)}: use scheme://host[:port], e.g. https://dash.example.com`,
        );
      }
    }
    this.origins = new Set(origins);
  }

  get enabled(): boolean {
    return this.origins.size > 0;
  }

  /**
   * `origin` is the request's Origin header; `preflightMethod` its
   * Access-Control-Request-Method when the request is an OPTIONS preflight.
   */
  decide(method: string, origin: string | undefined, preflightMethod?: string): CorsDecision {
    const isPreflight = method === "OPTIONS" && origin !== undefined && !!preflightMethod;
    if (origin === undefined || !this.origins.has(origin)) {
      if (!isPreflight) return { headers: {} };
      return {
        headers: {},
        preflight: edgeRefusal(
          403,
          EdgeCode.OriginNotAllowed,
          "cross-origin requests from this origin are not allowed (KON_HTTP_CORS_ORIGINS)",
        ),
      };
    }
    const headers: Record<string, string> = {
      "Access-Control-Allow-Origin": origin,
      Vary: "Origin",
    };
    if (!isPreflight) return { headers };
    return {
      headers,
      preflight: {
        status: 204,
        headers: {
          ...headers,
          "Access-Control-Allow-Methods": "GET, POST",
          "Access-Control-Allow-Headers": ALLOWED_HEADERS,
          "Access-Control-Max-Age": "600",
        },
      },
    };
  }
}
