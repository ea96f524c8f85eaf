// H6 finding H12: every answer of the admin API carries the browser security headers of
// sdk/internal (CSP, no framing, no sniffing, no Referer, own window): JSON routes, refusals,
// 404s, and the edge's 421 for a foreign Host.
import { rawGet } from "@konorkestra/testkit";
import { SECURITY_HEADERS } from "@konorkestra/sdk/internal";
import { AdminHarness } from "./helpers/admin-harness";

let h: AdminHarness;
beforeAll(async () => {
  h = await AdminHarness.start();
});
afterAll(async () => {
  await h?.stop();
});

/** The security headers an answer carries, by the names of SECURITY_HEADERS. */
function securityHeadersOf(get: (name: string) => string | null | undefined): object {
  return Object.fromEntries(Object.keys(SECURITY_HEADERS).map((k) => [k, get(k) ?? null]));
}

test("JSON answers carry the headers: a route, a refusal without token, a 404, the health check", async () => {
  const token = await h.firstAdmin();
  for (const [method, path, opts, status] of [
    ["GET", "/v1/groups", { token }, 200],
    ["GET", "/v1/groups", {}, 401],
    ["POST", "/v1/auth/login", { body: { email: "x@example.org", password: "wrong one" } }, 401],
    ["GET", "/v1/no-such-route", { token }, 404],
    ["GET", "/healthz", {}, 200],
  ] as const) {
    const a = await h.http(method, path, opts);
    expect([method, path, a.status]).toEqual([method, path, status]);
    expect(a.headers.get("content-type")).toMatch(/^application\/json/);
    expect(securityHeadersOf((k) => a.headers.get(k))).toEqual(SECURITY_HEADERS);
  }
});

test("the edge's refusal of a foreign Host (421) carries them", async () => {
  const res = await rawGet(`${h.admin.url}/healthz`, { host: "evil.example" });
  const answer = {
    status: res.status,
    security: securityHeadersOf((k) => res.headers[k.toLowerCase()] as string | undefined),
  };
  expect(answer).toEqual({ status: 421, security: SECURITY_HEADERS });
});
