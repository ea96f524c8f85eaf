// Access tokens limited to groups (the `groups` claim) on the monitor's API, as the admin applies
// them: a route about another group is refused with the admin's 403; /v1/nodes without a group
// lists the token's group only; /metrics (every group's counters) and undeclared routes are
// refused to limited tokens. Unlimited tokens see everything, as before.
import { silentLogger } from "@konorkestra/sdk";
import { sharedTestTokens, startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

const SHOP_KEY = "SHOP-JOIN-KEY-0123456789";
const DEMO_KEY = "DEMO-JOIN-KEY-0123456789";

let nats: NatsServer;
let keys: JoinKeyStandIn;
let monitor: Monitor;
const tokens = sharedTestTokens();

function token(groups?: string[]): Record<string, string> {
  return { authorization: `Bearer ${tokens.mint(["read"], { sub: "scope-test", groups })}` };
}
const ALL = token();
const SHOP = token(["shop"]);
const DEMO = token(["demo"]);
const BOTH = token(["shop", "demo"]);

const get = async (path: string, headers: Record<string, string>) => {
  const res = await fetch(`${monitor.url}${path}`, { headers });
  return { status: res.status, text: await res.text() };
};

beforeAll(async () => {
  nats = await startNats();
  keys = await JoinKeyStandIn.start(nats, { [SHOP_KEY]: "shop", [DEMO_KEY]: "demo" });
  monitor = await createMonitor(
    {
      ...nats.clientOptions(),
      port: 0,
      monitorId: "scope",
      authPublicKeyFile: tokens.publicKeyFile,
      groups: ["shop", "demo"],
    },
    { logger: silentLogger },
  );
  await monitor.current;
  for (const [group, key, node] of [
    ["shop", SHOP_KEY, "checkout-1"],
    ["demo", DEMO_KEY, "service1-demo"],
  ] as const) {
    const res = await fetch(`${monitor.url}/v1/heartbeat/${group}/${node}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ intervalMs: 60_000, meta: { owner: `${group}-team` } }),
    });
    expect(res.status).toBe(202);
  }
  // 503 until the revocation list has been read; then both nodes are listed.
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    const r = await get("/v1/nodes", ALL);
    if (r.status === 200 && r.text.includes("checkout-1") && r.text.includes("service1-demo")) {
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error("the monitor never listed both nodes");
});

afterAll(async () => {
  await monitor?.close();
  await keys?.stop();
  await nats?.stop();
});

/** Nothing of `group`'s node in a body. */
function expectNothingOf(group: "shop" | "demo", text: string): void {
  const node = group === "shop" ? "checkout-1" : "service1-demo";
  expect(text).not.toContain(node);
  expect(text).not.toContain(`${group}-team`);
  expect(text).not.toContain(`"group":"${group}"`);
}

test("an unlimited token reads every group, /metrics included", async () => {
  const list = await get("/v1/nodes", ALL);
  expect(list.status).toBe(200);
  expect(list.text).toContain("checkout-1");
  expect(list.text).toContain("service1-demo");
  expect((await get("/v1/nodes/demo/service1-demo", ALL)).status).toBe(200);
  expect((await get("/v1/nodes/shop/checkout-1", ALL)).status).toBe(200);
  expect((await get("/metrics", ALL)).status).toBe(200);
});

test("a token for one group: its own group only; another group's is the admin's 403", async () => {
  for (const [mine, other, hdr] of [
    ["shop", "demo", SHOP],
    ["demo", "shop", DEMO],
  ] as const) {
    const node = (g: string) => (g === "shop" ? "checkout-1" : "service1-demo");
    const list = await get("/v1/nodes", hdr);
    expect([mine, list.status]).toEqual([mine, 200]);
    expect(list.text).toContain(node(mine));
    expectNothingOf(other, list.text);
    const own = await get(`/v1/nodes?group=${mine}`, hdr);
    expect(own.status).toBe(200);
    expectNothingOf(other, own.text);
    expect((await get(`/v1/nodes/${mine}/${node(mine)}`, hdr)).status).toBe(200);

    for (const path of [
      `/v1/nodes?group=${other}`,
      `/v1/nodes/${other}/${node(other)}`,
      `/V1/NODES/${other}/${node(other)}`, // express routes ignore case
      `/v1/nodes/${other}/nobody`, // no hint whether a node exists
    ]) {
      const r = await get(path, hdr);
      expect([path, r.status]).toEqual([path, 403]);
      expect(JSON.parse(r.text)).toEqual({
        error: {
          code: "FORBIDDEN",
          message: "this token is not for this group",
          details: { group: other },
        },
      });
    }
  }
});

test("fleet-wide and undeclared routes are refused to limited tokens", async () => {
  for (const hdr of [SHOP, DEMO, BOTH]) {
    const metrics = await get("/metrics", hdr);
    expect(metrics.status).toBe(403);
    expect(metrics.text).toMatch(/covers every group/);
    const unknown = await get("/v1/no-such-route", hdr);
    expect(unknown.status).toBe(403);
    expect(unknown.text).toMatch(/does not say which groups/);
  }
  // Unlimited: the same unknown route is the plain 404.
  expect((await get("/v1/no-such-route", ALL)).status).toBe(404);
});

test("a token for several groups names one of them for a list", async () => {
  const r = await get("/v1/nodes", BOTH);
  expect(r.status).toBe(403);
  expect(r.text).toMatch(/name one with \?group=/);
  expectNothingOf("shop", r.text);
  expectNothingOf("demo", r.text);
  const shop = await get("/v1/nodes?group=shop", BOTH);
  expect(shop.status).toBe(200);
  expectNothingOf("demo", shop.text);
  expect((await get("/v1/nodes/demo/service1-demo", BOTH)).status).toBe(200);
});
