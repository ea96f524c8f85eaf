import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import type { FleetNode, NodeListItem } from "../src/model/fleet-node";
import { countRows } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import {
  HOUR,
  MIN,
  SCENARIO_CONFIG_EVENTS,
  publishScenario,
  waitForScenario,
} from "./helpers/fleet-scenario";
import { getJson } from "./helpers/get-json";
import { waitFor } from "./helpers/wait-for";
import { readAuth, testAuth } from "./helpers/test-auth";

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;
let T: number;

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 50,
    maintenanceIntervalMs: 3_600_000, // refreshed by hand below
    rollupLagMs: 0,
    nodeStateResolutionMs: 0, // exact lastSeq below
    logger: silentLogger,
  });
  T = Date.now();
  await publishScenario(sim, T);
  await waitForScenario(db.url);
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

const get = <T = Record<string, unknown>>(path: string) => getJson<T>(svc.url, path);

test("/v1/fleet/summary counts up, down, left and flapping per group", async () => {
  const { status, body } = await get("/v1/fleet/summary");
  expect(status).toBe(200);
  expect(body).toEqual({
    groups: [
      { group: "g1", up: 2, down: 0, left: 1, flapping: 1, unknown: 0, total: 4 },
      { group: "g2", up: 0, down: 1, left: 0, flapping: 0, unknown: 0, total: 1 },
    ],
    totals: { up: 2, down: 1, left: 1, flapping: 1, unknown: 0, total: 5 },
  });
  expect((await get("/v1/fleet/summary?group=g2")).body).toMatchObject({
    totals: { down: 1, total: 1 },
  });
});

test("/v1/nodes shows status, since, last beat age and config revisions", async () => {
  const { body } = await get<{ nodes: NodeListItem[]; next: string | null }>("/v1/nodes?group=g1");
  const byNode = Object.fromEntries(body.nodes.map((n) => [n.node, n]));
  expect(Object.keys(byNode)).toEqual(["a", "b", "c", "d"]);
  expect(byNode.b).toMatchObject({
    status: "up",
    sinceMs: T - HOUR,
    lastSeq: 10,
    config: { svc: 1 },
    configRejected: { svc: 2 },
    configPending: {},
  });
  expect(byNode.a).toMatchObject({ config: { svc: 2, db: 3 }, configRejected: {} });
  expect(body.next).toBeNull();
  expect(byNode.c).toMatchObject({ status: "left", sinceMs: T - 2 * HOUR, lastBeatAtMs: null });
  expect(byNode.d).toMatchObject({ status: "flapping", liveness: "up", flappingAtMs: T - MIN });
  const age = byNode.a!.lastBeatAgeMs!;
  expect(age).toBeGreaterThanOrEqual(0);
  expect(age).toBeLessThan(60_000);
  const down = await get<{ nodes: { node: string; suspect: boolean }[] }>("/v1/nodes?status=down");
  expect(down.body.nodes).toEqual([expect.objectContaining({ node: "e", suspect: true })]);
});

test("/v1/nodes pages by limit and cursor; detail=full and /v1/nodes/:group/:node give every field", async () => {
  type Page = { nodes: NodeListItem[]; next: string | null };
  const all = (await get<Page>("/v1/nodes")).body.nodes.map((n) => `${n.group}/${n.node}`);
  expect(all).toEqual(["g1/a", "g1/b", "g1/c", "g1/d", "g2/e"]);
  const walked: string[] = [];
  let path = "/v1/nodes?limit=2";
  for (let pages = 1; ; pages++) {
    const { status, body } = await get<Page>(path);
    expect(status).toBe(200);
    expect(body.nodes.length).toBeLessThanOrEqual(2);
    walked.push(...body.nodes.map((n) => `${n.group}/${n.node}`));
    if (body.next === null) {
      expect(pages).toBe(3);
      break;
    }
    path = `/v1/nodes?limit=2&cursor=${encodeURIComponent(body.next)}`;
  }
  expect(walked).toEqual(all);

  const full = await get<{ nodes: FleetNode[] }>("/v1/nodes?group=g1&detail=full");
  const b = full.body.nodes.find((n) => n.node === "b")!;
  expect(b.config.svc).toMatchObject({ revision: 1, rejectedRevision: 2 });
  expect(Object.keys(b.config.svc!).sort()).toEqual(
    ["appliedAtMs", "pendingRevision", "rejectedRevision", "revision", "sha256"].sort(),
  );
  const one = await get<FleetNode>("/v1/nodes/g1/b");
  expect(one.status).toBe(200);
  expect(one.body).toEqual({ ...b, lastBeatAgeMs: expect.any(Number) as number });
  const missing = await get<{ error: { code: string } }>("/v1/nodes/g1/zzz");
  expect(missing.status).toBe(404);
  expect(missing.body.error.code).toBe("NOT_FOUND");
});

test("/v1/nodes/:group/:node/uptime is time-weighted and interpolated at the window's edge", async () => {
  const b = await get<{ uptimePct: number; downMs: number; observedMs: number }>(
    "/v1/nodes/g1/b/uptime?window=24h",
  );
  expect(b.status).toBe(200);
  // Up since t-30h (before the window), down exactly one hour: 23/24 of the window.
  expect(b.body.downMs).toBe(HOUR);
  expect(b.body.observedMs).toBe(24 * HOUR);
  expect(b.body.uptimePct).toBeCloseTo((23 / 24) * 100, 6);
  // c: first seen 5 h ago, up 3 h, then left: measured from its first event.
  const c = await get<{ uptimePct: number; leftMs: number }>("/v1/nodes/g1/c/uptime?window=7d");
  expect(c.body.uptimePct).toBeCloseTo(60, 1);
  expect(c.body.leftMs).toBeGreaterThanOrEqual(2 * HOUR);
  const a = await get<{ uptimePct: number }>("/v1/nodes/g1/a/uptime?window=30d");
  expect(a.body.uptimePct).toBe(100);
  expect((await get("/v1/nodes/g1/zzz/uptime")).status).toBe(404);
});

test("/v1/incidents lists expiries and clean leaves with start, end and duration", async () => {
  type Inc = {
    node: string;
    startMs: number;
    endMs: number | null;
    durationMs: number;
    cause: string;
    suspect: boolean;
    open: boolean;
  };
  const all = await get<{ incidents: Inc[] }>("/v1/incidents?group=g1");
  expect(all.body.incidents.map((i) => [i.node, i.cause, i.open, i.suspect])).toEqual([
    ["b", "expiry", false, false],
    ["c", "clean leave", true, false],
    ["d", "expiry", false, true],
  ]);
  expect(all.body.incidents[0]).toMatchObject({
    startMs: T - 2 * HOUR,
    endMs: T - HOUR,
    durationMs: HOUR,
  });
  expect(all.body.incidents[2]).toMatchObject({ durationMs: 10 * MIN });
  const open = await get<{ incidents: Inc[] }>("/v1/incidents?open=true");
  expect(open.body.incidents.map((i) => i.node).sort()).toEqual(["c", "e"]);
  const g2 = await get<{ incidents: Inc[] }>("/v1/incidents?open=true&group=g2");
  expect(g2.body.incidents).toEqual([
    expect.objectContaining({
      node: "e",
      cause: "expiry",
      suspect: true,
      startMs: T - 30 * MIN,
      endMs: null,
    }),
  ]);
  const recent = await get<{ incidents: Inc[] }>(
    `/v1/incidents?from=${T - 100 * MIN}&to=${new Date(T).toISOString()}`,
  );
  expect(recent.body.incidents.map((i) => i.node).sort()).toEqual(["b", "c", "e"]);
  const closed = await get<{ incidents: Inc[] }>("/v1/incidents?open=false&group=g1");
  expect(closed.body.incidents.map((i) => i.node)).toEqual(["b", "d"]);
});

test("/v1/nodes/:group/:node/timeline gives state intervals", async () => {
  const { body } = await get<{ intervals: unknown[]; flappingMs: number[] }>(
    `/v1/nodes/g1/b/timeline?from=${T - 3 * HOUR}&to=${T}`,
  );
  expect(body.intervals).toEqual([
    {
      state: "up",
      fromMs: T - 3 * HOUR,
      toMs: T - 2 * HOUR,
      sinceMs: T - 30 * HOUR,
      suspect: false,
    },
    { state: "down", fromMs: T - 2 * HOUR, toMs: T - HOUR, sinceMs: T - 2 * HOUR, suspect: false },
    { state: "up", fromMs: T - HOUR, toMs: T, sinceMs: T - HOUR, suspect: false },
  ]);
  const d = await get<{ flappingMs: number[] }>("/v1/nodes/g1/d/timeline?window=24h");
  expect(d.body.flappingMs).toEqual([T - MIN]);
});

test("/v1/reliability gives MTTR, MTBF, incidents per node and top nodes by downtime", async () => {
  const { body } = await get<
    Record<string, unknown> & { topNodes: { node: string; downtimeMs: number }[] }
  >("/v1/reliability?group=g1&window=24h");
  expect(body).toMatchObject({
    nodes: 4,
    incidents: 3,
    failures: 2,
    cleanLeaves: 1,
    incidentsPerNode: 0.75,
  });
  expect(body.mttrMs).toBe((HOUR + 10 * MIN) / 2);
  // Up time in the window: a 3h, b 23h, c 3h, d 1h + 170min (each + the test's runtime).
  const up = (3 + 23 + 3 + 1) * HOUR + 170 * MIN;
  expect(body.mtbfMs as number).toBeGreaterThanOrEqual(up / 2);
  expect(body.mtbfMs as number).toBeLessThan(up / 2 + MIN);
  expect(body.topNodes.map((n) => n.node)).toEqual(["c", "b", "d"]);
  expect(body.topNodes[1]!.downtimeMs).toBe(HOUR);
});

test("/v1/series/heartbeats: beats, late beats, latency and skew, real-time and materialized alike", async () => {
  type Series = {
    points: {
      beats: number;
      lateBeats: number;
      nodes: number;
      latencyP50Ms: number;
      latencyP99Ms: number;
      clockSkewMs: number;
    }[];
  };
  const total = (s: Series) => s.points.reduce((n, p) => n + p.beats, 0);
  const live = await get<Series>("/v1/series/heartbeats?bucket=1m&group=g1&window=1h");
  expect(live.status).toBe(200);
  expect(total(live.body)).toBe(30);
  for (const p of live.body.points) {
    expect(p.latencyP50Ms).toBeGreaterThanOrEqual(20);
    expect(p.latencyP99Ms).toBeGreaterThanOrEqual(p.latencyP50Ms);
    expect(p.clockSkewMs).toBeGreaterThanOrEqual(20);
    expect(p.lateBeats).toBe(0);
  }
  // Materialize everything up to the next minute: the same numbers come from the rollup table.
  await svc.maintenance.runOnce(Date.now() + 2 * MIN);
  const materialized = await get<Series>("/v1/series/heartbeats?bucket=1m&group=g1&window=1h");
  expect(materialized.body.points).toEqual(live.body.points);
  // A beat landing behind the watermark is recorded as an invalidation and appears after refresh.
  await sim.heartbeat("g1", "a", {
    seq: 11,
    config: { svc: { revision: 2 }, db: { revision: 3 } },
  });
  await waitFor(
    "31st heartbeat",
    async () => (await countRows(db.url, "heartbeats", "stream_seq")).rows === 31,
  );
  await svc.maintenance.runOnce(Date.now() + 2 * MIN);
  const refreshed = await get<Series>("/v1/series/heartbeats?bucket=1h&node=a&window=1h");
  expect(total(refreshed.body)).toBe(11);
});

test("/v1/config/drift shows which nodes run which revision against the latest in KV, and who published it", async () => {
  const { body } = await get<{
    groups: { group: string; bucket: boolean; keys: unknown[]; unknownKeys: unknown[] }[];
  }>("/v1/config/drift?group=g1");
  expect(body.groups).toHaveLength(1);
  const g1 = body.groups[0]!;
  expect(g1.bucket).toBe(true);
  expect(g1.keys).toEqual([
    {
      key: "db",
      latestRevision: 3,
      latestSha256: "sha-db-1",
      inSync: 1,
      drifted: 0,
      missing: ["b", "d"],
      revisions: [{ revision: 3, current: true, nodes: ["a"], rejected: [] }],
      lastPublished: {
        atMs: T - 90 * MIN,
        revision: 3,
        author: "Ada <ada@example.org>",
        gitCommit: "c2",
        publishedBy: "loader-1",
        changeSetId: "cs-2",
        nodeId: null,
        reason: null,
      },
      lastRejection: null,
    },
    {
      key: "svc",
      latestRevision: 2,
      latestSha256: "sha-svc-2",
      inSync: 2,
      drifted: 1,
      missing: [],
      revisions: [
        { revision: 2, current: true, nodes: ["a", "d"], rejected: [] },
        {
          revision: 1,
          current: false,
          nodes: ["b"],
          rejected: [{ node: "b", rejectedRevision: 2 }],
        },
      ],
      lastPublished: {
        atMs: T - 90 * MIN,
        revision: 2,
        author: "Ada <ada@example.org>",
        gitCommit: "c2",
        publishedBy: "loader-1",
        changeSetId: "cs-2",
        nodeId: null,
        reason: null,
      },
      // The loader's refusal of a broken file (t-20min) is newer than b's refusal (t-80min).
      lastRejection: {
        atMs: T - 20 * MIN,
        revision: null,
        author: null,
        gitCommit: null,
        publishedBy: null,
        changeSetId: null,
        nodeId: null,
        reason: "bad indentation of a mapping entry",
      },
    },
  ]);
  expect(g1.unknownKeys).toEqual([{ key: "old", nodes: ["d"] }]);
  const all = await get<{ groups: { group: string; bucket: boolean }[] }>("/v1/config/drift");
  // g2's only node is down: it is not counted, so g2 does not appear.
  expect(all.body.groups.map((g) => g.group)).toEqual(["g1"]);
  const none = await get<{ groups: { group: string; bucket: boolean }[] }>(
    "/v1/config/drift?group=g9",
  );
  expect(none.body.groups).toEqual([{ group: "g9", bucket: false, keys: [], unknownKeys: [] }]);
});

test("/v1/pipeline, /metrics and /healthz", async () => {
  const p = await get<{
    rowsPerSec: number;
    streams: { kind: string; rowsTotal: number; lag: { pending: number } }[];
    storage: { edition: string };
  }>("/v1/pipeline");
  expect(p.body.streams.map((s) => [s.kind, s.lag.pending])).toEqual([
    ["heartbeats", 0],
    ["events", 0],
    ["config-events", 0],
  ]);
  expect(p.body.streams[2]!.rowsTotal).toBe(SCENARIO_CONFIG_EVENTS);
  expect(p.body.streams[1]!.rowsTotal).toBe(12);
  expect(p.body.rowsPerSec).toBeGreaterThan(0);
  expect(p.body.storage.edition).toMatch(/apache|timescale/);
  const m = await fetch(`${svc.url}/metrics`, { headers: readAuth() });
  const text = await m.text();
  expect(m.headers.get("content-type")).toMatch(/text\/plain/);
  expect(text).toMatch(/kon_analytics_rows_ingested_total\{kind="events"\} 12/);
  expect(text).toMatch(/kon_analytics_consumer_lag_messages\{kind="heartbeats"\} 0/);
  const h = await get<{ status: string }>("/healthz");
  expect(h.status).toBe(200);
  expect(h.body.status).toBe("ok");
});

test.each([
  ["/v1/nodes/g1/a/uptime?window=2d", /window/],
  ["/v1/nodes/Bad_Group/a/uptime", /path parameter group/],
  ["/v1/nodes/g1/a.b/uptime", /path parameter node/],
  ["/v1/incidents?from=yesterday", /from: "yesterday" is not an ISO 8601 time/],
  ["/v1/incidents?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", /from: must be before to/],
  ["/v1/incidents?open=maybe", /open/],
  ["/v1/nodes?grup=g1", /grup/],
  ["/v1/nodes?limit=0", /query parameter limit: /],
  ["/v1/nodes?limit=10001", /query parameter limit: /],
  ["/v1/nodes?limit=all", /query parameter limit: must be a whole number/],
  ["/v1/nodes?cursor=abc", /query parameter cursor: not a cursor this API gave out/],
  ["/v1/nodes?cursor=a%20b", /query parameter cursor: not a cursor this API gave out/],
  ["/v1/nodes?detail=everything", /query parameter detail/],
  ["/v1/nodes/g1/a?detail=full", /detail/],
  ["/v1/nodes/Bad_Group/a", /path parameter group/],
  ["/v1/series/heartbeats?bucket=1m&window=30d", /exceed 5000 points/],
  ["/v1/series/heartbeats?bucket=2m", /bucket/],
  ["/v1/reliability?window=forever", /window/],
  ["/v1/config/drift?group=G!", /group/],
])("bad input %s is a 400 with a clear message", async (path, message) => {
  const { status, body } = await get<{ error: { code: string; message: string } }>(path);
  expect(status).toBe(400);
  expect(body.error.code).toBe("QUERY_INVALID");
  expect(body.error.message).toMatch(message);
});

test("an unknown API route is a JSON 404", async () => {
  const { status, body } = await get<{ error: { code: string } }>("/v1/nope");
  expect(status).toBe(404);
  expect(body.error.code).toBe("NOT_FOUND");
});
