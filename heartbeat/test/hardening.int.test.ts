import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { eventsOf, eventually, waitForEvents } from "./helpers/node-events";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

/** The join key of group g1 (the admin stand-in knows it). */
const TOKEN = "G1-JOIN-KEY-0123456789";

interface ErrorBody {
  error: { code: string; message: string };
}

// Issue 11, items 6 and 7: bad requests answer 4xx, not 500 or a silent guess; an empty beat is
// no proof of life, and a beat without a clock does not move the start of the outage after it.
describe("monitor hardening", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let monitor: Monitor;
  let keys: JoinKeyStandIn;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(nats.clientOptions());
    keys = await JoinKeyStandIn.start(nats, { [TOKEN]: "g1" });
    monitor = await createMonitor(
      {
        ...nats.clientOptions(),
        port: 0,
        // This file tests the API's answers; api-auth.int.test.ts tests its access tokens.
        auth: false,
        monitorId: "hard1",
        groups: ["g1"],
        sweepIntervalMs: 50,
      },
      { logger: silentLogger },
    );
    await monitor.current;
  });
  afterAll(async () => {
    await monitor?.close();
    await keys?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it("answers 400 to a bad percent-encoding in the path", async () => {
    const res = await fetch(`${monitor.url}/v1/heartbeat/g1/n%ff`, {
      method: "POST",
      headers: auth,
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/percent-encoding/);
    const nodes = await fetch(`${monitor.url}/v1/nodes/g1/n%ff`);
    expect(nodes.status).toBe(400);
  });

  it("answers 415 to a charset it does not read", async () => {
    const res = await fetch(`${monitor.url}/v1/heartbeat/g1/n1`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json; charset=latin1" },
      body: "{}",
    });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).message).toMatch(/charset/);
  });

  it.each([
    ["allowedMisses=0x10", "allowedMisses"],
    ["intervalMs=1e4", "intervalMs"],
    ["allowedMisses=%204", "allowedMisses"],
    ["leaving=maybe", "leaving"],
  ])("refuses ?%s instead of guessing", async (query, field) => {
    const res = await fetch(`${monitor.url}/v1/heartbeat/g1/cron1?${query}`, { headers: auth });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain(field);
  });

  it("still reads decimal numbers and true/false from a query", async () => {
    const res = await fetch(
      `${monitor.url}/v1/heartbeat/g1/cron2?intervalMs=60000&allowedMisses=2&leaving=false`,
      { headers: auth },
    );
    expect(res.status).toBe(202);
  });

  it("drops a 0-byte heartbeat: no node, counted as empty", async () => {
    const js = jetstream(nc);
    await js.publish("kon.hb.g1.hollow", new Uint8Array());
    await eventually(async () => {
      const m = await monitor.metrics.rejected.get();
      return m.values.some((v) => v.labels.reason === "empty" && v.value === 1);
    }, "the empty beat counted");
    expect(monitor.tracker.get("g1.hollow")).toBeUndefined();
  });

  it("dates a down by KON_HB's time of the last beat, not by a missing sent_at_ms", async () => {
    const js = jetstream(nc);
    // No sent_at_ms (0 on the wire): the down used to claim the node was last seen at its deadline.
    const beat = encodeMessage(Heartbeat, { seq: 1, intervalMs: 250, allowedMisses: 2 });
    const ack = await js.publish("kon.hb.g1.clockless", beat);
    const events = await waitForEvents(nc, (e) => eventsOf(e, "clockless", "down").length === 1);
    const stored = await (
      await jetstreamManager(nc)
    ).streams.getMessage("KON_HB", { seq: ack.seq });
    const down = eventsOf(events, "clockless", "down")[0]!.event;
    expect(Number(down.lastSeenMs)).toBe(stored!.time.getTime());
  });
});
