// H6 finding H12: every answer of the loader's HTTP app carries the browser security headers of
// sdk/internal (CSP, no framing, no sniffing, no Referer, own window).
import { SECURITY_HEADERS } from "@konorkestra/sdk/internal";
import { Harness, put } from "./loader-harness";
import { signedRefresh, writeWebhookSecret } from "./signed-refresh";

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => {
  await h?.stop();
});

/** The security headers an answer carries, by the names of SECURITY_HEADERS. */
const securityHeadersOf = (res: Response): object =>
  Object.fromEntries(Object.keys(SECURITY_HEADERS).map((k) => [k, res.headers.get(k)]));

test("JSON answers carry the headers: a refresh, an unsigned one, a 404, the health check", async () => {
  const root = h.tempDir();
  put(root, "hdr1/app.json", '{"v": 1}');
  const hook = writeWebhookSecret(h.tempDir());
  const { loader } = await h.loader(root, { webhookSecretFile: hook.file });

  const signed = await signedRefresh(loader.url, hook.secret);
  expect(signed.status).toBe(200);
  expect(securityHeadersOf(signed)).toEqual(SECURITY_HEADERS);

  for (const [method, path, status] of [
    ["POST", "/v1/_refresh", 401],
    ["GET", "/v1/no-such-route", 404],
    ["GET", "/healthz", 200],
  ] as const) {
    const res = await fetch(`${loader.url}${path}`, { method });
    await res.arrayBuffer();
    expect([method, path, res.status]).toEqual([method, path, status]);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(securityHeadersOf(res)).toEqual(SECURITY_HEADERS);
  }
});
