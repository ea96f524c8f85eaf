import { Heartbeat, NodeEvent, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import { nodeEventKind } from "@konorkestra/sdk/internal";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { MAX_CLAIMED_SKEW_MS } from "../src/model/time-window";
import { sql } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { waitFor } from "./helpers/wait-for";
import { testAuth } from "./helpers/test-auth";

// Issue 11 item 7 (a 0-byte heartbeat is a valid beat; its sent_at_ms of 0 shifts the down that
// follows) and issue 10 item 5 (times a message claims are clamped to a sane window), analytics
// side, against real NATS and PostgreSQL.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;

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
    nodeStateResolutionMs: 0,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

const rejectsOf = (subject: string) =>
  sql<{ reason: string }>(db.url, "SELECT reason FROM ingest_rejects WHERE subject = $1", [
    subject,
  ]);

test("a 0-byte heartbeat is not stored as a beat: it is a reject that says why", async () => {
  const subject = sim.names.heartbeatSubject("g1", "empty");
  await sim.raw(subject, new Uint8Array(0));
  await waitFor("reject stored", async () => (await rejectsOf(subject)).length === 1);
  expect((await rejectsOf(subject))[0]!.reason).toMatch(/empty heartbeat/);
  expect(await sql(db.url, "SELECT 1 FROM heartbeats WHERE node_id = 'empty'")).toEqual([]);
  expect(await sql(db.url, "SELECT 1 FROM node_state WHERE node_id = 'empty'")).toEqual([]);
});

test("a sent_at_ms far from the server's time is clamped; 0 or negative is the server's time", async () => {
  const now = Date.now();
  const claims: [string, number][] = [
    ["future", 99_999_999_999_999], // year 5138
    ["past", 1], // 1970
    ["zero", 0],
    ["negative", -5_000_000],
  ];
  for (const [node, sentAtMs] of claims) await sim.heartbeat("g4", node, { seq: 1, sentAtMs });
  await waitFor("beats stored", async () => {
    const r = await sql(db.url, "SELECT 1 FROM heartbeats WHERE group_name = 'g4'");
    return r.length === claims.length;
  });
  const rows = await sql<{ node_id: string; skew: number; latency_ms: number }>(
    db.url,
    `SELECT node_id, extract(epoch FROM sent_at - time) * 1000 AS skew, latency_ms
       FROM heartbeats WHERE group_name = 'g4'`,
  );
  const skew = Object.fromEntries(rows.map((r) => [r.node_id, Number(r.skew)]));
  expect(skew.future).toBeCloseTo(MAX_CLAIMED_SKEW_MS, -1);
  expect(skew.past).toBeCloseTo(-MAX_CLAIMED_SKEW_MS, -1);
  expect(skew.zero).toBe(0);
  expect(skew.negative).toBe(0);
  const state = await sql<{ node_id: string; sent: Date }>(
    db.url,
    "SELECT node_id, last_sent_at AS sent FROM node_state WHERE group_name = 'g4'",
  );
  for (const s of state) {
    expect(Math.abs(s.sent.getTime() - now)).toBeLessThanOrEqual(MAX_CLAIMED_SKEW_MS + 60_000);
  }
});

test("a node event's claimed times are clamped: a detection in year 5138 does not land there", async () => {
  const id = "g2.far.down.1";
  await sim.js.publish(
    sim.names.eventSubject("g2", "node.down"),
    encodeMessage(NodeEvent, {
      eventId: id,
      group: "g2",
      nodeId: "far",
      kind: nodeEventKind("down"),
      detectedAtMs: 99_999_999_999_999,
      lastSeenMs: 99_999_999_990_000,
      reason: "forged",
      monitorId: "m",
    }),
    { msgID: id },
  );
  await waitFor("event stored", async () => {
    return (await sql(db.url, "SELECT 1 FROM node_events WHERE event_id = $1", [id])).length === 1;
  });
  const [ev] = await sql<{ time: Date; last_seen_at: Date; received_at: Date }>(
    db.url,
    "SELECT time, last_seen_at, received_at FROM node_events WHERE event_id = $1",
    [id],
  );
  const received = ev!.received_at.getTime();
  expect(ev!.time.getTime() - received).toBeLessThanOrEqual(MAX_CLAIMED_SKEW_MS);
  expect(ev!.last_seen_at.getTime()).toBeLessThanOrEqual(ev!.time.getTime());
});

test("a down after a beat without sent_at_ms starts at the last beat's arrival, not at detection", async () => {
  // A beat as a minimal client sends it: no sent_at_ms. Its arrival (stream time) is the proof
  // of life. The monitor then reports the down one TTL later with last_seen_ms = the detection
  // time (its fallback when sent_at_ms is 0) and the beat as last_heartbeat.
  const beat = { group: "g3", nodeId: "n", seq: 1, intervalMs: 1000, allowedMisses: 3 };
  await sim.js.publish(sim.names.heartbeatSubject("g3", "n"), encodeMessage(Heartbeat, beat));
  await waitFor("beat in node_state", async () => {
    const r = await sql(
      db.url,
      "SELECT 1 FROM node_state WHERE group_name = 'g3' AND last_beat_at IS NOT NULL",
    );
    return r.length === 1;
  });
  const [{ beat_at: beatAt }] = (await sql<{ beat_at: Date }>(
    db.url,
    "SELECT last_beat_at AS beat_at FROM node_state WHERE group_name = 'g3'",
  )) as [{ beat_at: Date }];
  const detected = beatAt.getTime() + 3000;
  const id = "g3.n.down.1";
  await sim.js.publish(
    sim.names.eventSubject("g3", "node.down"),
    encodeMessage(NodeEvent, {
      eventId: id,
      group: "g3",
      nodeId: "n",
      kind: nodeEventKind("down"),
      detectedAtMs: detected,
      lastSeenMs: detected,
      lastHeartbeat: beat,
      reason: "no heartbeat for 3000 ms (ttl expired)",
      monitorId: "m",
    }),
    { msgID: id },
  );
  await waitFor("down stored", async () => {
    return (await sql(db.url, "SELECT 1 FROM node_events WHERE event_id = $1", [id])).length === 1;
  });
  const [ev] = await sql<{ last_seen_at: Date }>(
    db.url,
    "SELECT last_seen_at FROM node_events WHERE event_id = $1",
    [id],
  );
  expect(ev!.last_seen_at.getTime()).toBe(beatAt.getTime());
});

test("a config event names a valid key (and node, where it names one), or it is a reject", async () => {
  const atMs = Date.now();
  const bad = [
    await sim.configEvent("g5", "published", { key: "a b", revision: 3, atMs }),
    await sim.configEvent("g5", "deleted", { key: "", atMs }),
    await sim.configEvent("g5", "rejected", { key: "svc", nodeId: "n.1", atMs }),
  ];
  const good = await sim.configEvent("g5", "rejected", { key: "", atMs, eventId: "ok-1" });
  await waitFor("good event stored", async () => {
    const r = await sql(db.url, "SELECT 1 FROM config_events WHERE event_id = $1", [good]);
    return r.length === 1;
  });
  await waitFor("rejects stored", async () => {
    const r = await sql(db.url, "SELECT 1 FROM ingest_rejects WHERE subject LIKE '%.g5.%'");
    return r.length === bad.length;
  });
  const stored = await sql<{ event_id: string }>(
    db.url,
    "SELECT event_id FROM config_events WHERE group_name = 'g5'",
  );
  expect(stored.map((r) => r.event_id)).toEqual([good]);
  const reasons = await sql<{ reason: string }>(
    db.url,
    "SELECT reason FROM ingest_rejects WHERE subject LIKE '%.g5.%' ORDER BY stream_seq",
  );
  expect(reasons.map((r) => r.reason)).toEqual([
    expect.stringMatching(/invalid config key "a b"/),
    expect.stringMatching(/invalid config key ""/),
    expect.stringMatching(/invalid node id "n\.1"/),
  ]);
});
