import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { describe as show, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000; // 250 ms × 2 misses, rounded up to whole seconds
const LIVE = ["a", "b", "c"];

/** After a restart: until this client has reconnected and JetStream answers. */
async function jetStreamBack(nc: NatsConnection): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await (await jetstreamManager(nc, { timeout: 1000 })).streams.info("KON_EVENTS");
      return;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

// Issue 11, item 5: a NATS restart used to give node.down then node.up for every live node (the
// heartbeat stream has a hole for every node while the broker is away). The monitor was blind,
// the fleet was not dead: no live node may be reported down, and a node that really stopped
// during the outage is reported once, after the monitor hears again.
describe("a NATS restart longer than the TTL", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let monitor: Monitor;
  let sim: NodeSimulator;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({
      ...nats.clientOptions(),
      name: "broker-restart-nodes",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    monitor = await createMonitor(
      { ...nats.clientOptions(), port: 0, monitorId: "blind1", sweepIntervalMs: 50 },
      { logger: silentLogger },
    );
    await monitor.current;
    sim = new NodeSimulator(nc, { group: "g1", intervalMs: 250, misses: 2 });
  });
  afterAll(async () => {
    sim?.close();
    await monitor?.close();
    await nc?.close();
    await nats?.stop();
  });

  it("reports no live node down, and the node that stopped meanwhile once", async () => {
    sim.start([...LIVE, "gone"]);
    await waitForEvents(nc, (e) => [...LIVE, "gone"].every((n) => eventsOf(e, n, "up").length));

    await nats.shutdown();
    sim.stop("gone"); // stops for good while the broker is away
    // Two TTLs away: every live node's deadline passes while nothing can be heard.
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    expect(
      ((await (await fetch(`${monitor.url}/healthz`)).json()) as { blind: boolean }).blind,
    ).toBe(true);
    await nats.restart();
    await jetStreamBack(nc);

    const events = await waitForEvents(nc, (e) => eventsOf(e, "gone", "down").length === 1, 30_000);
    // Every live node has beaten again by now; give a false down every chance to appear: two
    // TTLs, so every deadline the monitor re-armed has come and gone.
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    const after = await readNodeEvents(nc);
    expect(show(after.filter((e) => e.kind !== "up"))).toBe("down g1.gone");
    for (const n of LIVE) expect(eventsOf(after, n, "up")).toHaveLength(1);

    const down = eventsOf(events, "gone", "down")[0]!.event;
    expect(down.reason).toMatch(/could not hear .* re-armed/);
    expect(
      ((await (await fetch(`${monitor.url}/healthz`)).json()) as { blind: boolean }).blind,
    ).toBe(false);
    const periods = (await monitor.metrics.blindPeriods.get()).values[0]?.value;
    expect(periods).toBe(1);
  }, 60_000);
});
