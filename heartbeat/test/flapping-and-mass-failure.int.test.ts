import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { describe as show, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("flapping and mass failure", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let monitor: Monitor;
  const sims: NodeSimulator[] = [];
  const simulate = (group: string) => {
    const sim = new NodeSimulator(nc, { group, intervalMs: 250, misses: 2 });
    sims.push(sim);
    return sim;
  };

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(nats.clientOptions());
    monitor = await createMonitor(
      {
        ...nats.clientOptions(),
        port: 0,
        monitorId: "f1",
        sweepIntervalMs: 50,
        flapCount: 2,
        flapWindowMs: 8000,
        massFailurePct: 50,
        massFailureMinNodes: 4,
      },
      { logger: silentLogger },
    );
    await monitor.current;
  });
  afterAll(async () => {
    for (const s of sims) s.close();
    await monitor?.close();
    await nc?.close();
    await nats?.stop();
  });

  it("reports a node that keeps going down and up once as flapping, then once as up when stable", async () => {
    const sim = simulate("flap");
    sim.start(["wobbly"]);
    await waitForEvents(nc, (e) => eventsOf(e, "wobbly", "up").length === 1);
    for (let cycle = 1; cycle <= 5; cycle++) {
      sim.stop("wobbly");
      await sleep(TTL_MS + 700);
      sim.resume("wobbly");
      await sleep(600);
    }
    let events = await readNodeEvents(nc);
    // Two downs (the limit) are reported; the third makes it flapping; the storm after is quiet.
    expect(show(eventsOf(events, "wobbly"))).toBe(
      "up flap.wobbly, down flap.wobbly, up flap.wobbly, down flap.wobbly, up flap.wobbly, flapping flap.wobbly",
    );
    expect(monitor.tracker.get("flap.wobbly")?.status).toBe("flapping");
    // Stable for a whole window: one up says it is over.
    events = await waitForEvents(nc, (e) => eventsOf(e, "wobbly", "up").length === 4, 15_000);
    expect(eventsOf(events, "wobbly", "up")[3]!.event.reason).toBe("stable again after flapping");
    expect(monitor.tracker.get("flap.wobbly")?.status).toBe("up");
  }, 40_000);

  it("marks the downs of a group losing most of its nodes at once as suspect, not a lone failure", async () => {
    const mass = simulate("mass");
    const calm = simulate("calm");
    const massNodes = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const calmNodes = Array.from({ length: 6 }, (_, i) => `c${i}`);
    mass.start(massNodes);
    calm.start(calmNodes);
    await waitForEvents(nc, (e) =>
      [...massNodes, ...calmNodes].every((n) => eventsOf(e, n, "up").length === 1),
    );

    const lost = massNodes.slice(0, 8); // 80 % of the group, as a partition would
    for (const n of lost) mass.stop(n);
    calm.stop("c0"); // one node of six: an ordinary failure
    const events = await waitForEvents(nc, (e) =>
      [...lost, "c0"].every((n) => eventsOf(e, n, "down").length === 1),
    );
    for (const n of lost) {
      const down = eventsOf(events, n, "down")[0]!.event;
      expect(down.suspect).toBe(true);
      expect(down.reason).toMatch(/mass failure: \d+ of 10 nodes of mass lost within 1000 ms/);
    }
    const lone = eventsOf(events, "c0", "down")[0]!.event;
    expect(lone.suspect).toBe(false);
    expect(lone.reason).not.toMatch(/mass failure/);
  });
});
