import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CONTENT_SECURITY_POLICY, SECURITY_HEADERS, securityHeaders } from "../src/internal";

// The browser headers every service sends (H6 finding H12): the rule itself, written out here so
// that a loosened policy fails a test, not only a missing header.

test("the policy allows the page's own files only: no inline code, plug-ins, <base> or framing", () => {
  const directives = CONTENT_SECURITY_POLICY.split(";").map((d) => d.trim());
  expect(directives).toEqual(
    expect.arrayContaining([
      "default-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ]),
  );
  expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-|\*|data:|https?:/);
  expect(SECURITY_HEADERS).toEqual({
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
  });
});

test("the middleware sets them on an answer of node's own HTTP server", async () => {
  const mw = securityHeaders();
  const server = createServer((req, res) => mw(req, res, () => res.end("{}")));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(k)).toBe(v);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
