import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { sql } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { waitFor } from "./helpers/wait-for";
import { testAuth } from "./helpers/test-auth";

// node_state across batches: a beat that only moves the beat sends three columns, a change of
// config or process rewrites the row, and a row deleted by hand comes back whole.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;

interface State {
  last_seq: string;
  instance_id: string | null;
  hostname: string | null;
  config: Record<string, { revision: number }>;
}

const state = async (): Promise<State | undefined> =>
  (
    await sql<State>(
      db.url,
      "SELECT last_seq, instance_id, hostname, config FROM node_state WHERE node_id = 'n1'",
    )
  )[0];

const seqIs = (seq: number) => async (): Promise<State | false> => {
  const s = await state();
  return s !== undefined && Number(s.last_seq) === seq && s;
};

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 20,
    nodeStateResolutionMs: 0,
    maintenanceIntervalMs: 60_000,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

test("beats, a config change and a deleted row, each in a batch of its own", async () => {
  const config = { svc: { revision: 1 } };
  await sim.heartbeat("g", "n1", { seq: 1, config });
  expect(await waitFor("first beat", seqIs(1))).toMatchObject({
    instance_id: "inst-n1",
    hostname: "host-n1",
    config: { svc: { revision: 1 } },
  });

  await sim.heartbeat("g", "n1", { seq: 2, config });
  expect(await waitFor("beat only", seqIs(2))).toMatchObject({ config: { svc: { revision: 1 } } });

  await sim.heartbeat("g", "n1", { seq: 3, config: { svc: { revision: 2 } } });
  expect(await waitFor("config change", seqIs(3))).toMatchObject({
    config: { svc: { revision: 2 } },
  });

  await sql(db.url, "DELETE FROM node_state WHERE node_id = 'n1'");
  await sim.heartbeat("g", "n1", { seq: 4, config: { svc: { revision: 2 } } });
  expect(await waitFor("row back, whole", seqIs(4))).toMatchObject({
    instance_id: "inst-n1",
    hostname: "host-n1",
    config: { svc: { revision: 2 } },
  });
});
