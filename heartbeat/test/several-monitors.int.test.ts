import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import type { MonitorOptions } from "../src/options";
import { eventually, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { MonitorProcess } from "./helpers/monitor-process";
import { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000;
const NODES = Array.from({ length: 12 }, (_, i) => `n${i + 1}`);
const SHARED = { sweepIntervalMs: 50, memberLeaseMs: 2000, handoverMs: 2500 };

async function storedCount(m: Monitor): Promise<number> {
  const metric = await m.metrics.events.get();
  return metric.values.filter((v) => v.labels.result === "stored").reduce((n, v) => n + v.value, 0);
}

describe("several monitors", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let m1: Monitor;
  let m2: Monitor;
  let sim: NodeSimulator;
  let victim: MonitorProcess;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(nats.clientOptions());
    const opts = (monitorId: string): MonitorOptions => ({
      ...nats.clientOptions(),
      port: 0,
      monitorId,
      ...SHARED,
    });
    [m1, m2] = await Promise.all([
      createMonitor(opts("m1"), { logger: silentLogger }),
      createMonitor(opts("m2"), { logger: silentLogger }),
    ]);
    await eventually(
      () => m1.membership.members().length === 2 && m2.membership.members().length === 2,
      "both monitors in the membership",
    );
    sim = new NodeSimulator(nc, { group: "g1", intervalMs: 250, misses: 2 });
    victim = new MonitorProcess({
      ...nats.clientEnv(),
      KON_MONITOR_ID: "m3",
      KON_SWEEP_INTERVAL_MS: "50",
      KON_MEMBER_LEASE_MS: String(SHARED.memberLeaseMs),
      KON_HANDOVER_MS: String(SHARED.handoverMs),
    });
  });
  afterAll(async () => {
    sim?.close();
    await victim?.kill();
    await m1?.close();
    await m2?.close();
    await nc?.close();
    await nats?.stop();
  });

  it("share the nodes and store every event once", async () => {
    sim.start(NODES);
    let events = await waitForEvents(nc, (e) =>
      NODES.every((n) => eventsOf(e, n, "up").length > 0),
    );
    const stopped = ["n2", "n7", "n11"];
    for (const n of stopped) sim.stop(n);
    await waitForEvents(nc, (e) => stopped.every((n) => eventsOf(e, n, "down").length > 0));
    await new Promise((r) => setTimeout(r, 2 * TTL_MS + SHARED.handoverMs));
    events = await readNodeEvents(nc);
    for (const n of NODES) expect(eventsOf(events, n, "up")).toHaveLength(1);
    for (const n of stopped) expect(eventsOf(events, n, "down")).toHaveLength(1);
    expect(events).toHaveLength(NODES.length + stopped.length);

    // Both published (each owns its share), and between them no event went out twice.
    expect(new Set(events.map((e) => e.event.monitorId))).toEqual(new Set(["m1", "m2"]));
    expect((await storedCount(m1)) + (await storedCount(m2))).toBe(events.length);
    // The kon_nodes keys are written by the owner only: both monitors write some.
    const jsm = await jetstreamManager(nc);
    const writers = new Set<string>();
    for (const n of NODES.filter((x) => !stopped.includes(x))) {
      const m = await jsm.streams.getMessage("KV_kon_nodes", {
        last_by_subj: `$KV.kon_nodes.g1.${n}`,
      });
      writers.add(m?.header.get("Kon-Monitor") ?? "");
    }
    expect(writers).toEqual(new Set(["m1", "m2"]));
  });

  it("take over the nodes of a monitor that crashed, without a false down", async () => {
    await victim.start();
    await eventually(() => m1.membership.isLive("m3") && m2.membership.isLive("m3"), "m3 joined");
    const running = NODES.filter((n) => !["n2", "n7", "n11"].includes(n));
    const ofVictim = running.filter((n) => m1.membership.owner(`g1.${n}`) === "m3");
    expect(ofVictim.length).toBeGreaterThan(1);
    const dies = ofVictim[0]!;
    const before = (await readNodeEvents(nc)).length;

    await victim.kill();
    sim.stop(dies);
    const events = await waitForEvents(nc, (e) => eventsOf(e, dies, "down").length === 1, 20_000);
    expect(eventsOf(events, dies, "down")[0]!.event.monitorId).not.toBe("m3");
    // The victim's other nodes lost their store refreshes for a lease; they must not go down.
    await new Promise((r) => setTimeout(r, SHARED.memberLeaseMs + SHARED.handoverMs + TTL_MS));
    const after = await readNodeEvents(nc);
    expect(after.slice(before).map((e) => `${e.kind} ${e.node}`)).toEqual([`down ${dies}`]);
    expect(m1.membership.members()).toEqual(["m1", "m2"]);
    // The victim's other nodes are now written by their new owners. (Their records are written
    // with 2 × TTL + 1 s, so they need not expire during the handover; a marker that does come is
    // judged against KON_HB, and the check above shows none became a down.)
    const jsm = await jetstreamManager(nc);
    for (const n of ofVictim.slice(1)) {
      await eventually(async () => {
        const m = await jsm.streams.getMessage("KV_kon_nodes", {
          last_by_subj: `$KV.kon_nodes.g1.${n}`,
        });
        return ["m1", "m2"].includes(m?.header.get("Kon-Monitor") ?? "");
      }, `${n} written by its new owner`);
    }
  });
});
