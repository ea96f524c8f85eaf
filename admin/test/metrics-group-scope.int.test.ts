import { AdminHarness, errorOf } from "./helpers/admin-harness";

// The admin's /metrics counts callouts, join-key checks and routes over every group: like the
// /metrics of analytics and the monitor, it is refused to a token limited to groups.

let h: AdminHarness;
let session: string;
beforeAll(async () => {
  h = await AdminHarness.start();
  session = await h.firstAdmin();
});
afterAll(async () => {
  await h?.stop();
});

async function readToken(groups?: string[]): Promise<string> {
  const r = await h.http("POST", "/v1/tokens", {
    token: session,
    body: { name: "metrics-reader", scopes: ["read"], ...(groups ? { groups } : {}) },
  });
  if (r.status !== 201) throw new Error(r.text);
  return (r.body as { token: string }).token;
}

it("a read token limited to groups gets 403 on /metrics; an unlimited read token gets 200", async () => {
  const limited = await h.http("GET", "/metrics", { token: await readToken(["shop"]) });
  expect(limited.status).toBe(403);
  expect(errorOf(limited)).toEqual({
    code: "FORBIDDEN",
    message: "this answer covers every group; a token limited to groups cannot read it",
    details: { groups: ["shop"] },
  });
  expect(limited.text).not.toContain("kon_admin_");

  const several = await h.http("GET", "/metrics", { token: await readToken(["a", "b"]) });
  expect(several.status).toBe(403);

  const unlimited = await h.http("GET", "/metrics", { token: await readToken() });
  expect(unlimited.status).toBe(200);
  expect(unlimited.text).toContain("kon_admin_http_seconds");
  // A session token of an admin sees every group.
  expect((await h.http("GET", "/metrics", { token: session })).status).toBe(200);
});
