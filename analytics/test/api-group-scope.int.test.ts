// Access tokens limited to groups (the `groups` claim) on the analytics API, as the admin applies
// them (README: a token made with "groups":["shop"] reads shop only). Two groups' data (the
// fleet scenario's g1, plus g2's node e with heartbeats, a config value and a config event);
// an unlimited token, a g1-only, a g2-only and a g1+g2 token against every endpoint: a route
// about another group is the admin's 403; a group-less list shows the token's group only;
// fleet-wide answers (/v1/pipeline, /metrics) and undeclared routes are refused to limited tokens.
import { ConfigEntry, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import { ensureConfigBucket } from "@konorkestra/sdk/internal";
import { sharedTestTokens, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { ANALYTICS_ROUTE_SCOPES } from "../src/http/group-scope";
import { countRows } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { SCENARIO_CONFIG_EVENTS, publishScenario } from "./helpers/fleet-scenario";
import { testAuth } from "./helpers/test-auth";
import { waitFor } from "./helpers/wait-for";

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;
const tokens = sharedTestTokens();

function token(groups?: string[]): Record<string, string> {
  return { authorization: `Bearer ${tokens.mint(["read"], { sub: "scope-test", groups })}` };
}
const ALL = token();
const G1 = token(["g1"]);
const G2 = token(["g2"]);
const BOTH = token(["g1", "g2"]);

/** Nodes of each group in the scenario (g1's from fleet-scenario.ts, g2's e). */
const NODES = { g1: ["a", "b", "c", "d"], g2: ["e"] } as const;
type Group = keyof typeof NODES;
const OTHER: Record<Group, Group> = { g1: "g2", g2: "g1" };

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 50,
    maintenanceIntervalMs: 3_600_000,
    rollupLagMs: 0,
    nodeStateResolutionMs: 0,
    logger: silentLogger,
  });
  const t = Date.now();
  await publishScenario(sim, t);
  // g2 gets what g1 has: heartbeats with a config revision, a config value and its event.
  const kv = await ensureConfigBucket(sim.nc, sim.names, "g2");
  await kv.put(
    "svc",
    encodeMessage(ConfigEntry, {
      key: "svc",
      payload: new TextEncoder().encode("g2-value"),
      sha256: "sha-g2-svc",
      gitAuthor: "Eve <eve@g2.example.org>",
      gitCommit: "g2commit",
      publishedBy: "loader-1",
    }),
  );
  await sim.configEvent("g2", "published", {
    key: "svc",
    revision: 1,
    sha256: "sha-g2-svc",
    changeSetId: "cs-g2",
    sourcePath: "g2/svc.yaml",
    atMs: t - 60_000,
  });
  for (let seq = 1; seq <= 5; seq++) {
    await sim.heartbeat("g2", "e", {
      seq,
      sentAtMs: Date.now() - 20,
      config: { svc: { revision: 1 } },
    });
  }
  await waitFor(
    "35 heartbeats",
    async () => (await countRows(db.url, "heartbeats", "stream_seq")).rows === 35,
  );
  await waitFor(
    "12 events",
    async () => (await countRows(db.url, "node_events", "event_id")).rows === 12,
  );
  await waitFor(
    "config events",
    async () =>
      (await countRows(db.url, "config_events", "event_id")).rows === SCENARIO_CONFIG_EVENTS + 1,
  );
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

async function get(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(svc.url + path, { headers: { ...headers, "cache-control": "no-cache" } });
  return { status: res.status, text: await res.text() };
}

/** What names a group in an answer: its name, its files, its authors, or one of its nodes. */
const MARKERS: Record<Group, string[]> = {
  g1: ['"g1"', "g1/", "bob@example.org", "ada@example.org"],
  g2: ['"g2"', "g2/", "eve@g2.example.org", "g2commit"],
};

/** True when `text` (a JSON answer) names `group` or one of its nodes. */
function mentions(group: Group, text: string): boolean {
  return (
    MARKERS[group].some((m) => text.includes(m)) ||
    NODES[group].some((n) => text.includes(`"node":"${n}"`) || text.includes(`"nodeId":"${n}"`))
  );
}

/**
 * Every group-less route (with the parameters a dashboard sends), for one group `g`: what a
 * token for `g` reads without naming it, and with `?group=` of another group must be refused.
 */
const lists = (rolloutGroup: Group): string[] => [
  "/v1/fleet/summary",
  "/v1/nodes",
  "/v1/nodes?detail=full",
  "/v1/nodes?limit=2",
  "/v1/uptime?limit=100",
  "/v1/incidents",
  "/v1/reliability",
  "/v1/series/heartbeats?window=1h",
  "/v1/series/heartbeats?node=e",
  "/v1/config/drift",
  "/v1/config/drift/summary",
  "/v1/config/drift/summary?limit=100",
  "/v1/config/history",
  "/v1/config/rejections",
  `/v1/rollouts?key=svc`,
  `/v1/rollouts?key=svc&group=${rolloutGroup}`,
];
const withGroup = (path: string, g: string) =>
  path.includes("group=") ? path : `${path}${path.includes("?") ? "&" : "?"}group=${g}`;
const nodePaths = (g: Group) => {
  const n = NODES[g][0];
  return [`/v1/nodes/${g}/${n}`, `/v1/nodes/${g}/${n}/uptime`, `/v1/nodes/${g}/${n}/timeline`];
};
const FLEET_WIDE = ["/v1/pipeline", "/metrics"];

test("every route analytics serves is declared, and this file asks each of them", () => {
  const asked = new Set(
    [...lists("g1"), ...nodePaths("g1"), ...FLEET_WIDE].map((p) =>
      p.split("?")[0]!.replace(/^\/v1\/nodes\/g1\/a/, "/v1/nodes/:group/:node"),
    ),
  );
  expect([...asked].sort()).toEqual(ANALYTICS_ROUTE_SCOPES.map((r) => r.path).sort());
});

test("an unlimited token reads both groups on every route, as before", async () => {
  for (const path of ["/v1/fleet/summary", "/v1/nodes", "/v1/incidents"]) {
    const r = await get(path, ALL);
    expect([path, r.status]).toEqual([path, 200]);
    expect([path, mentions("g1", r.text), mentions("g2", r.text)]).toEqual([path, true, true]);
  }
  for (const g of ["g1", "g2"] as const) {
    for (const path of [...lists(g).map((p) => withGroup(p, g)), ...nodePaths(g)]) {
      const r = await get(path, ALL);
      expect([path, r.status]).toEqual([path, 200]);
    }
  }
  for (const path of [...lists("g1"), ...FLEET_WIDE]) {
    if (path.startsWith("/v1/rollouts?key=svc") && !path.includes("group")) continue;
    const r = await get(path, ALL);
    expect([path, r.status]).toEqual([path, 200]);
  }
});

describe.each(["g1", "g2"] as const)("a token for %s only", (mine) => {
  const other = OTHER[mine];
  const hdr = mine === "g1" ? G1 : G2;

  test("reads its own group on every list, with or without ?group=, and nothing of the other", async () => {
    for (const path of [...lists(mine), ...lists(mine).map((p) => withGroup(p, mine))]) {
      const r = await get(path, hdr);
      expect([path, r.status]).toEqual([path, 200]);
      expect([path, mentions(other, r.text)]).toEqual([path, false]);
    }
    // Not vacuous: the lists with rows of both groups show the token's own.
    for (const path of [
      "/v1/fleet/summary",
      "/v1/nodes",
      "/v1/incidents",
      "/v1/config/history",
      "/v1/rollouts?key=svc",
    ]) {
      expect([path, mentions(mine, (await get(path, hdr)).text)]).toEqual([path, true]);
    }
    for (const path of nodePaths(mine)) {
      const r = await get(path, hdr);
      expect([path, r.status]).toEqual([path, 200]);
    }
  });

  test("is refused, as the admin refuses it, every route naming the other group", async () => {
    const paths = [
      ...lists(other).map((p) => withGroup(p, other)),
      ...nodePaths(other),
      `/V1/NODES/${other}/${NODES[other][0]}`, // express routes ignore case
      `/v1/nodes/${other}/nobody`, // no hint whether a node exists
      `/v1/nodes?group=${mine}&group=${other}`,
    ];
    for (const path of paths) {
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
  });

  test("is refused fleet-wide answers and routes that declared no scope", async () => {
    for (const path of FLEET_WIDE) {
      const r = await get(path, hdr);
      expect([path, r.status]).toEqual([path, 403]);
      expect(r.text).toMatch(/covers every group/);
    }
    const r = await get("/v1/no-such-route", hdr);
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/does not say which groups/);
  });
});

test("a token for several groups names one of them on a list", async () => {
  for (const path of lists("g1").filter((p) => !p.includes("group="))) {
    const r = await get(path, BOTH);
    expect([path, r.status]).toEqual([path, 403]);
    expect(r.text).toMatch(/name one with \?group=/);
  }
  for (const g of ["g1", "g2"] as const) {
    const r = await get(`/v1/nodes?group=${g}`, BOTH);
    expect(r.status).toBe(200);
    expect(mentions(OTHER[g], r.text)).toBe(false);
    expect((await get(nodePaths(g)[0]!, BOTH)).status).toBe(200);
  }
});
