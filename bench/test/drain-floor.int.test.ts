// bench:ingest's drain floors (analytics/scripts/drain-floor.ts run by measureDrainFloor): each
// mode reads exactly the backlog it is given, from the sequence it is given, through analytics'
// own code, on a real nats-server (and PostgreSQL for the ingest mode), and cleans up its consumer.
import { randomUUID } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat, ensureStreams, wireNames } from "@konorkestra/sdk/internal";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { FLOOR_MODES, measureDrainFloor } from "../src/ingest/drain-floor";

const names = wireNames("kon");
let nats: NatsServer;
let pg: PostgresDatabase;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  pg = await startPostgres();
  nc = await connect({ ...nats.clientOptions(), name: "drain-floor-test" });
  await ensureStreams(await jetstreamManager(nc), names);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await pg?.stop();
  await nats?.stop();
});

/** `count` SDK-shaped heartbeats of `nodes` nodes into KON_HB; the first one's sequence. */
async function publishBeats(count: number, nodes: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const first = (await jsm.streams.info(names.heartbeatStream)).state.last_seq + 1;
  for (let i = 0; i < count; i++) {
    const nodeId = `n${i % nodes}`;
    const payload = encodeMessage(
      Heartbeat,
      buildHeartbeat(
        {
          group: "bench",
          nodeId,
          intervalMs: 1000,
          allowedMisses: 3,
          serviceName: "floor-svc",
          serviceVersion: "1.0.0",
          instanceId: randomUUID(),
          meta: {},
        },
        { seq: Math.floor(i / nodes) + 1, sentAtMs: Date.now(), leaving: false, applied: {} },
      ),
    );
    nc.publish(names.heartbeatSubject("bench", nodeId), payload);
  }
  await nc.flush();
  for (let tries = 0; ; tries++) {
    const last = (await jsm.streams.info(names.heartbeatStream)).state.last_seq;
    if (last >= first + count - 1) return first;
    if (tries > 100) throw new Error(`KON_HB holds ${last - first + 1} of ${count}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.each(FLOOR_MODES)(
  "floor '%s' reads exactly the backlog it is given and deletes its consumer",
  async (mode) => {
    // Beats before the backlog: the floor must start at its sequence, not at the stream's start.
    await publishBeats(150, 10);
    const first = await publishBeats(2_000, 50);
    const floor = await measureDrainFloor(
      mode,
      { ...nats.serviceEnv("analytics"), KON_PG_URL: pg.url },
      { "nats-server": nats.pid },
      first,
      2_000,
    );
    expect(floor.mode).toBe(mode);
    expect(floor.rows).toBe(2_000);
    // Its own backlog: from the sequence given, the 150 beats before it not read.
    expect(floor.firstSeq).toBe(first);
    expect(floor.lastSeq).toBe(first + 1_999);
    expect(floor.seconds).toBeGreaterThan(0);
    expect(floor.rowsPerSec).toBeCloseTo(2_000 / floor.seconds, 6);
    // CPU measured from "go" to the result: the reader process and the server.
    expect(floor.cpu.seconds.reader).toBeGreaterThan(0);
    expect(Object.keys(floor.cpu.seconds)).toContain("nats-server");
    const jsm = await jetstreamManager(nc);
    const left = await jsm.consumers.list(names.heartbeatStream).next();
    expect(left.map((c) => c.name).filter((n) => n.startsWith("drain_floor_"))).toEqual([]);
  },
  120_000,
);

test("a backlog that is not there is an error within the timeout, not a hang or a figure", async () => {
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(names.heartbeatStream)).state.last_seq;
  // One message after the stream's last: the reader would wait for ever.
  await expect(
    measureDrainFloor(
      "deliver",
      { ...nats.serviceEnv("analytics"), KON_PG_URL: pg.url },
      { "nats-server": nats.pid },
      last + 1,
      1,
      5_000,
    ),
  ).rejects.toThrow(/no result line within 5000 ms/);
}, 60_000);
