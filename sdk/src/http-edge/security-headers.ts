import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The Content-Security-Policy of every Konorkestra HTTP answer. The analytics dashboard is one
 * HTML page with its script, style and chart library as files of its own origin, and it talks to
 * its own API only: `'self'` is all it needs, so no inline script or style, no `eval`, no plug-in,
 * no `<base>` that redirects relative URLs, no framing (clickjacking) and no form posting away.
 * A JSON answer gets the same header; a browser that renders one as a page then runs nothing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

/**
 * The browser-facing headers every service sends on every answer (routes, refusals of the edge,
 * 404s and errors): the CSP above, framing refused for browsers older than `frame-ancestors`, no
 * MIME sniffing (a JSON body is never run as script), no Referer leaving a page (its URL may
 * carry a group or node name), and a window of its own (no `window.opener` across origins).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
});

/**
 * Sets {@link SECURITY_HEADERS} on every answer: a middleware for node's HTTP server (express
 * takes it as is), put first so that even the edge's refusals carry them.
 */
export function securityHeaders(): (
  req: IncomingMessage,
  res: ServerResponse,
  next: () => void,
) => void {
  const entries = Object.entries(SECURITY_HEADERS);
  return (_req, res, next) => {
    for (const [k, v] of entries) res.setHeader(k, v);
    next();
  };
}
