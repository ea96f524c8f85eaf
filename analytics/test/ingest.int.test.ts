import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsRuntimeOptions, AnalyticsService } from "../src";
import { countRows, sql } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { getJson } from "./helpers/get-json";
import { waitFor } from "./helpers/wait-for";
import { testAuth } from "./helpers/test-auth";

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
const services: AnalyticsService[] = [];

async function analytics(o: AnalyticsRuntimeOptions = {}): Promise<AnalyticsService> {
  const s = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchRows: 50,
    batchMs: 100,
    maintenanceIntervalMs: 60_000,
    nodeStateResolutionMs: 0, // exact last_seq below
    logger: silentLogger,
    ...o,
  });
  services.push(s);
  return s;
}

async function stopAll(): Promise<void> {
  while (services.length > 0) await services.pop()!.close();
}

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
});

afterAll(async () => {
  await stopAll();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

afterEach(stopAll);

test("heartbeats and events land in batches, are acked after commit, and node_state follows", async () => {
  const svc = await analytics();
  const t0 = Date.now() - 60_000;
  for (let seq = 1; seq <= 120; seq++) {
    const node = `n${seq % 3}`;
    const beat = Math.ceil(seq / 3);
    // Beat 20 of n2 reaches the server 2 s after it was sent: late (> 0.5 × its 1 s interval).
    const sentAtMs = Date.now() - (node === "n2" && beat === 20 ? 2000 : 0);
    // n0 moves to revision 8 of svc halfway: a second config set.
    const revision = node === "n0" && beat > 20 ? 8 : 7;
    await sim.heartbeat("g1", node, { seq: beat, sentAtMs, config: { svc: { revision } } });
  }
  await sim.event("g1", "n0", "up", { atMs: t0 });
  await sim.event("g1", "n1", "up", { atMs: t0 });
  await sim.event("g1", "n1", "down", { atMs: t0 + 30_000, suspect: true });

  await waitFor(
    "120 heartbeats",
    async () => (await countRows(db.url, "heartbeats", "stream_seq")).rows === 120,
  );
  await waitFor(
    "3 events",
    async () => (await countRows(db.url, "node_events", "event_id")).rows === 3,
  );
  const late = await sql<{ node_id: string; n: number }>(
    db.url,
    "SELECT node_id, count(*)::int AS n FROM heartbeats WHERE late GROUP BY 1",
  );
  expect(late).toEqual([{ node_id: "n2", n: 1 }]);
  const state = await sql<{
    node_id: string;
    status: string;
    last_seq: string;
    suspect: boolean;
    config: unknown;
  }>(db.url, "SELECT node_id, status, last_seq, suspect, config FROM node_state ORDER BY node_id");
  expect(state.map((s) => [s.node_id, s.status, Number(s.last_seq), s.suspect])).toEqual([
    ["n0", "up", 40, false],
    ["n1", "down", 40, true],
    ["n2", "unknown", 40, false],
  ]);
  expect(state[0]!.config).toMatchObject({ svc: { revision: 8 } });
  expect(state[1]!.config).toMatchObject({ svc: { revision: 7 } });
  // Every row names its config set, and the set holds the revisions the node reported.
  const sets = await sql<{ node_id: string; config: unknown; n: number }>(
    db.url,
    `SELECT node_id, config, count(*)::int AS n FROM heartbeats_with_config
      GROUP BY 1, 2 ORDER BY 1, 2::text`,
  );
  expect(sets).toEqual([
    { node_id: "n0", config: { svc: 7 }, n: 20 },
    { node_id: "n0", config: { svc: 8 }, n: 20 },
    { node_id: "n1", config: { svc: 7 }, n: 40 },
    { node_id: "n2", config: { svc: 7 }, n: 40 },
  ]);
  expect((await countRows(db.url, "config_sets", "id")).rows).toBe(3); // with 0, "no config"

  // Acked only after commit, and more than one batch of at most 50 was needed.
  await waitFor("acks", () => sum(svc, "messagesTotal") === 123);
  const batches = await svc.metrics.batchSeconds.get();
  const count = batches.values
    .filter((v) => v.metricName?.endsWith("_count"))
    .reduce((s, v) => s + v.value, 0);
  expect(count).toBeGreaterThanOrEqual(4);
  const pipeline = await waitFor("no consumer lag", async () => {
    const { body } = await getJson<{ streams: { lag: { pending: number; ackPending: number } }[] }>(
      svc.url,
      "/v1/pipeline",
    );
    return body.streams.every((s) => s.lag.pending === 0 && s.lag.ackPending === 0) && body;
  });
  expect(pipeline.streams).toHaveLength(3);
});

test("a redelivered stream never adds a row", async () => {
  // A fresh pair of durables reads both streams from the start again: every message is a duplicate.
  const before = await countRows(db.url, "heartbeats", "stream_seq");
  const events = await countRows(db.url, "node_events", "event_id");
  const svc = await analytics({ heartbeatConsumer: "replay-hb", eventConsumer: "replay-evt" });
  await waitFor("replay acked", () => sum(svc, "messagesTotal") === before.rows + events.rows);
  expect(sum(svc, "rowsTotal")).toBe(0);
  expect(await countRows(db.url, "heartbeats", "stream_seq")).toEqual(before);
  expect(await countRows(db.url, "node_events", "event_id")).toEqual(events);
});

test("several instances share the consumers; every message is stored once", async () => {
  const [a, b] = await Promise.all([analytics(), analytics()]);
  const before = (await countRows(db.url, "heartbeats", "stream_seq")).rows;
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = 1; i <= 100; i++) await sim.heartbeat("g2", `w${w}`, { seq: i });
    }),
  );
  await waitFor(
    "400 more heartbeats",
    async () => (await countRows(db.url, "heartbeats", "stream_seq")).rows === before + 400,
  );
  await waitFor("acks", () => sum(a, "messagesTotal") + sum(b, "messagesTotal") === 400);
  expect(sum(a, "rowsTotal") + sum(b, "rowsTotal")).toBe(400);
  const c = await countRows(db.url, "heartbeats", "stream_seq");
  expect(c.rows).toBe(c.distinct);
});

test("an undecodable message, a bad subject or a payload that contradicts it is kept in ingest_rejects and does not stall the stream", async () => {
  const svc = await analytics();
  const bad = await sim.raw(
    sim.names.heartbeatSubject("g3", "bad"),
    Uint8Array.from([0xff, 0xff, 0xff, 0x01]),
  );
  // Group and node come from the subject, validated; the payload may not name others.
  const beat = (group: string, nodeId: string) =>
    encodeMessage(Heartbeat, { group, nodeId, seq: 1, sentAtMs: Date.now() });
  const badSubject = await sim.raw(`${sim.names.prefix}.hb.G3.upper`, beat("", ""));
  // A NUL quoted in the reason is stored as U+FFFD: a reject that cannot be stored would stall.
  const otherNode = await sim.raw(sim.names.heartbeatSubject("g3", "n1"), beat("g3", "n\u00002"));
  await sim.heartbeat("g3", "good", { seq: 1 });
  await waitFor(
    "good row",
    async () => (await sql(db.url, "SELECT 1 FROM heartbeats WHERE node_id = 'good'")).length === 1,
  );
  const rejects = await sql<{ stream_seq: string; reason: string }>(
    db.url,
    "SELECT stream_seq, reason FROM ingest_rejects ORDER BY stream_seq",
  );
  expect(rejects.map((r) => Number(r.stream_seq))).toEqual([bad, badSubject, otherNode]);
  expect(rejects.map((r) => r.reason)).toEqual([
    expect.stringMatching(/Heartbeat/),
    expect.stringMatching(/invalid heartbeat subject: invalid group "G3"/),
    "payload names g3.n\uFFFD2, subject names g3.n1",
  ]);
  expect(await sql(db.url, "SELECT 1 FROM heartbeats WHERE group_name = 'g3'")).toHaveLength(1);
  const metric = await svc.metrics.rejected.get();
  expect(metric.values.find((v) => v.labels.kind === "heartbeats")?.value).toBe(3);
});

test("a row PostgreSQL refuses is split out of its batch into ingest_rejects; the rest is stored", async () => {
  // Published before analytics starts, so all six land in one batch. The bad beat decodes fine
  // but a constraint of the table refuses it (analytics clamps what it can, so a real beat that
  // PostgreSQL refuses is rare: a constraint an operator added plays one here): COPY fails for
  // the whole batch, the batch is halved until the row is alone, and only that row is refused.
  await sql(db.url, "ALTER TABLE heartbeats ADD CONSTRAINT no_poison CHECK (node_id <> 'poison')");
  const bad = await sim.raw(
    sim.names.heartbeatSubject("g4", "poison"),
    encodeMessage(Heartbeat, { group: "g4", nodeId: "poison", seq: 1, sentAtMs: Date.now() }),
  );
  for (let i = 1; i <= 5; i++) await sim.heartbeat("g4", `ok${i}`, { seq: 1 });
  const svc = await analytics({ heartbeatConsumer: "split-hb", eventConsumer: "split-evt" });
  await waitFor(
    "five good rows",
    async () =>
      (await sql(db.url, "SELECT 1 FROM heartbeats WHERE group_name = 'g4'")).length === 5,
  );
  const rejects = await waitFor("the refused row", async () => {
    const r = await sql<{ stream_seq: string; reason: string }>(
      db.url,
      "SELECT stream_seq, reason FROM ingest_rejects WHERE subject LIKE '%.g4.%'",
    );
    return r.length > 0 && r;
  });
  expect(rejects.map((r) => Number(r.stream_seq))).toEqual([bad]);
  expect(rejects[0]!.reason).toMatch(/no_poison/);
  await waitFor("all acked", () => sum(svc, "messagesTotal") >= 6);
  await sql(db.url, "ALTER TABLE heartbeats DROP CONSTRAINT no_poison");
});

test("an instance that stops hands the messages it holds back at once; another stores them", async () => {
  // A collects for a minute before writing, so the 60 beats stay in its hand (delivered, unacked).
  const a = await analytics({ batchRows: 1000, batchMs: 60_000 });
  for (let i = 1; i <= 60; i++) await sim.heartbeat("g5", `h${i % 3}`, { seq: i });
  const hb = a.ingesters.find((i) => i.status().kind === "heartbeats")!;
  // All delivered (to A, the only reader), none acknowledged: A's batch is still open.
  await waitFor("60 in A's hand", async () => {
    const lag = await hb.lag();
    return lag.pending === 0 && lag.ackPending >= 60;
  });
  expect(await g5Rows()).toBe(0);
  await a.close();
  services.splice(services.indexOf(a), 1);
  // Without A's -NAK these would come back only after the 30 s ack wait (> the 15 s waited).
  const b = await analytics();
  await waitFor("the 60 stored by B", async () => (await g5Rows()) === 60, 15_000);
  await waitFor("B acked them", () => sum(b, "messagesTotal") >= 60);
  const c = await countRows(db.url, "heartbeats", "stream_seq");
  expect(c.rows).toBe(c.distinct);
});

async function g5Rows(): Promise<number> {
  const r = await sql<{ n: string }>(
    db.url,
    "SELECT count(DISTINCT stream_seq) AS n FROM heartbeats WHERE group_name = 'g5'",
  );
  return Number(r[0]!.n);
}

function sum(svc: AnalyticsService, field: "messagesTotal" | "rowsTotal"): number {
  return svc.ingesters.reduce((s, i) => s + i.status()[field], 0);
}
