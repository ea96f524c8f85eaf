import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import type { Rollout, RevisionRollout } from "../src/domain/rollouts";
import { sql } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { getJson } from "./helpers/get-json";
import { GROUP, KEY, RolloutFleet } from "./helpers/rollout-fleet";
import { testAuth } from "./helpers/test-auth";
import { waitFor } from "./helpers/wait-for";

// GET /v1/rollouts against a live stack: real SDK connections (nodes a-e of RolloutFleet) send
// heartbeats, config.applied and config.rejected to a real nats-server; analytics ingests them into
// TimescaleDB; the numbers per revision must match what the nodes did.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;
let fleet: RolloutFleet;
let r1: { revision: number; atMs: number };
let r2: { revision: number; atMs: number };

const path = `/v1/rollouts?group=${GROUP}&key=${KEY}`;
const rollout = async (): Promise<Rollout> => (await getJson<Rollout>(svc.url, path)).body;
const rev = (r: Rollout, n: number): RevisionRollout => {
  const found = r.revisions.find((x) => x.revision === n);
  if (!found) throw new Error(`revision ${n} not in ${JSON.stringify(r.revisions)}`);
  return found;
};

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 50,
    nodeStateResolutionMs: 0,
    logger: silentLogger,
  });
  fleet = new RolloutFleet(nats, sim);
  r1 = await fleet.publish(1);
  await Promise.all(["a", "b", "c", "d", "e"].map((id) => fleet.join(id)));
  await waitFor("every node's apply of r1 and heartbeat stored", async () => {
    const r = await rollout();
    return r.liveNodes === 5 && rev(r, r1.revision).convergence.applied === 5;
  });
  await fleet.takeOffline("e");
  await fleet.holdLag();
  r2 = await fleet.publish(7);
  await waitFor("a and b on r2, c's refusal stored", async () => {
    const r = await rollout();
    const x = rev(r, r2.revision);
    return r.liveNodes === 4 && x.running === 2 && x.refused === 1;
  });
}, 30_000);

afterAll(async () => {
  await fleet?.close();
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

test("config.applied events are stored with node, revision and the node's apply time", async () => {
  const rows = await sql<{ node_id: string; revision: string; time: Date }>(
    db.url,
    `SELECT node_id, revision, time FROM config_events
      WHERE kind = 'applied' AND group_name = '${GROUP}' AND key = '${KEY}' ORDER BY node_id, time`,
  );
  const a2 = rows.find((r) => r.node_id === "a" && Number(r.revision) === r2.revision);
  expect(a2?.time.getTime()).toBe(fleet.appliedAt("a"));
  expect(
    new Set(rows.filter((r) => Number(r.revision) === r1.revision).map((r) => r.node_id)),
  ).toEqual(new Set(["a", "b", "c", "d", "e"]));
});

test("per revision: running, refused, behind among live nodes; the offline node is not counted", async () => {
  const r = await rollout();
  expect(r).toMatchObject({ group: GROUP, key: KEY, latestRevision: r2.revision, liveNodes: 4 });
  const latest = rev(r, r2.revision);
  expect(latest).toMatchObject({
    latest: true,
    publishedAtMs: r2.atMs,
    running: 2,
    pending: 0,
    refused: 1,
    behind: 2,
    converged: false,
    nodes: { running: ["a", "b"], pending: [], refused: ["c"] },
  });
  const old = rev(r, r1.revision);
  expect(old).toMatchObject({ latest: false, running: 2, behind: 0, converged: true });
  expect(old.nodes.running.sort()).toEqual(["c", "d"]);
  expect(r.behind.map((l) => [l.node, l.revision, l.state])).toEqual([
    ["c", r1.revision, "refused"],
    ["d", r1.revision, "behind"],
  ]);
  // c's schema said why (zod: the number is too big, at most 5).
  expect(r.behind[0]!.reason).toMatch(/5/);
  expect(r.behind[1]!.reason).toBeNull();
});

test("time to converge: p50/p99 from the publish to each node's apply (nearest rank)", async () => {
  const r = await rollout();
  const waits = ["a", "b"].map((id) => fleet.appliedAt(id) - r2.atMs).sort((x, y) => x - y);
  expect(rev(r, r2.revision).convergence).toEqual({
    applied: 2,
    p50Ms: waits[0],
    p99Ms: waits[1],
    maxMs: waits[1],
  });
  // r1: five nodes applied it (e too, before it went offline).
  expect(rev(r, r1.revision).convergence.applied).toBe(5);
});

test("the lagging node catches up and is no longer behind; a pending revision is counted", async () => {
  fleet.releaseLag();
  await waitFor("d on r2", async () => rev(await rollout(), r2.revision).running === 3);
  const b = fleet.nodes.get("b")!;
  const cur = b.applied.get(KEY)!;
  // What the scheduled-activation path writes while a value waits for its instant.
  b.applied.set(KEY, { ...cur, pendingRevision: r2.revision + 100 });
  const r = await waitFor("pending stored", async () => {
    const x = await rollout();
    return x.revisions.some((v) => v.pending === 1) ? x : undefined;
  });
  expect(rev(r, r2.revision + 100)).toMatchObject({ pending: 1, nodes: { pending: ["b"] } });
  expect(rev(r, r2.revision)).toMatchObject({ running: 3, behind: 1, nodes: { refused: ["c"] } });
  expect(rev(r, r2.revision).convergence.applied).toBe(3);
  // Cancelled (same running revision and apply time as before): the newer event wins.
  b.applied.set(KEY, { ...cur, pendingRevision: 0 });
  const after = await waitFor("pending cancelled", async () => {
    const x = await rollout();
    return x.revisions.every((v) => v.pending === 0) ? x : undefined;
  });
  expect(after.revisions.map((v) => v.revision)).not.toContain(r2.revision + 100);
});

test("a read token is required; bad or missing parameters are 400 with the field named", async () => {
  expect((await getJson(svc.url, path, { authorization: "" })).status).toBe(401);
  const missing = await getJson<{ error: { code: string; message: string } }>(
    svc.url,
    `/v1/rollouts?group=${GROUP}`,
  );
  expect(missing.status).toBe(400);
  expect(missing.body.error.message).toMatch(/key/);
  const bad = await getJson<{ error: { message: string } }>(
    svc.url,
    `/v1/rollouts?group=Bad_Group&key=${KEY}`,
  );
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toMatch(/group/);
  const limit = await getJson<{ error: { message: string } }>(svc.url, `${path}&limit=0`);
  expect(limit.status).toBe(400);
  const unknown = await getJson<{ error: { code: string } }>(
    svc.url,
    `/v1/rollouts?group=${GROUP}&key=nothing-here`,
  );
  expect(unknown.status).toBe(404);
  expect(unknown.body.error.code).toBe("NOT_FOUND");
});
