// Issue 14 item 4: the API and the ingest as instances of their own (KON_ANALYTICS_ROLES), so a
// crowd of dashboards on the API cannot take the ingest's event loop. Both share the database and
// the durable consumers as any two instances do; each keeps auth, health and a clean shutdown.
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics, parseAnalyticsOptions } from "../src";
import type { AnalyticsService } from "../src";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { readAuth, testAuth } from "./helpers/test-auth";
import { waitFor } from "./helpers/wait-for";

let nats: NatsServer;
let db: PostgresDatabase;
let ingest: AnalyticsService | undefined;
let api: AnalyticsService | undefined;
let sim: FleetSimulator | undefined;

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  const common = {
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 50,
    logger: silentLogger,
  };
  ingest = await createAnalytics({ ...common, roles: ["ingest"] });
  api = await createAnalytics({ ...common, roles: ["api"] });
  sim = await FleetSimulator.connect(nats.clientOptions());
});

afterAll(async () => {
  await sim?.close();
  await api?.close();
  await ingest?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

const get = (svc: AnalyticsService, path: string, auth = true): Promise<Response> =>
  fetch(svc.url + path, { headers: auth ? readAuth() : {} });

test("the API instance serves what the ingest instance committed; neither does the other's work", async () => {
  await sim!.heartbeat("g1", "n1", { seq: 1 });
  await waitFor("n1 in the API instance's /v1/nodes", async () => {
    const body = (await (await get(api!, "/v1/nodes")).json()) as { nodes: { node: string }[] };
    return body.nodes.some((n) => n.node === "n1");
  });
  expect(api!.ingesters).toHaveLength(0);
  expect(ingest!.ingesters).toHaveLength(3);
  expect(ingest!.ingesters.map((i) => i.status().kind)).toContain("heartbeats");
  const pipeline = (await (await get(api!, "/v1/pipeline")).json()) as { streams: unknown[] };
  expect(pipeline.streams).toEqual([]);
});

test("the ingest instance answers /healthz, /metrics and /v1/pipeline only, with the same token rules", async () => {
  expect((await get(ingest!, "/healthz", false)).status).toBe(200);
  expect((await get(ingest!, "/metrics", false)).status).toBe(401);
  expect((await get(ingest!, "/metrics")).status).toBe(200);
  const pipeline = (await (await get(ingest!, "/v1/pipeline")).json()) as {
    streams: { kind: string }[];
  };
  expect(pipeline.streams).toHaveLength(3);
  const nodes = await get(ingest!, "/v1/nodes");
  expect(nodes.status).toBe(404);
  expect(((await nodes.json()) as { error: { message: string } }).error.message).toMatch(
    /ingest-only instance/,
  );
  expect((await get(ingest!, "/v1/nodes", false)).status).toBe(401);
});

test("the API instance keeps auth and health", async () => {
  expect((await get(api!, "/v1/nodes", false)).status).toBe(401);
  const health = (await (await get(api!, "/healthz", false)).json()) as {
    status: string;
    checks: { ingest: unknown[] };
  };
  expect(health).toMatchObject({ status: "ok", checks: { ingest: [] } });
});

test("KON_ANALYTICS_ROLES names the roles; an unknown or empty one is refused", () => {
  const env = (v: string) => parseAnalyticsOptions({}, { KON_ANALYTICS_ROLES: v }).roles;
  expect(parseAnalyticsOptions({}, {}).roles).toEqual(["api", "ingest"]);
  expect(env("ingest")).toEqual(["ingest"]);
  expect(env(" api , ingest,api")).toEqual(["api", "ingest"]);
  expect(() => env("dashboard")).toThrow(/roles/);
  expect(() => parseAnalyticsOptions({ roles: [] }, {})).toThrow(/roles/);
});
