import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Monitor } from "../src/monitor";
import { describe as show, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { MonitorFixture } from "./helpers/monitor-fixture";
import type { NodeSimulator } from "./helpers/node-simulator";

// interval 250 ms × 2 misses = 500 ms, rounded up to the 1 s a NATS per-key TTL can express.
const TTL_MS = 1000;

describe("monitor, NATS backend", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let monitor: Monitor;
  let sim: NodeSimulator;

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    monitor = await fx.monitor({ monitorId: "m1" });
    sim = fx.simulator({ group: "g1", intervalMs: 250, misses: 2 });
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it("reports a first heartbeat as node.up and keeps kon_nodes g1.a with a per-key TTL", async () => {
    sim.start(["a"]);
    const events = await waitForEvents(nc, (e) => eventsOf(e, "a", "up").length === 1);
    const up = eventsOf(events, "a", "up")[0]!;
    expect(up.event.reason).toBe("first heartbeat");
    expect(up.event.monitorId).toBe("m1");
    expect(up.event.lastHeartbeat?.nodeId).toBe("a");

    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage("KV_kon_nodes", {
      last_by_subj: "$KV.kon_nodes.g1.a",
    });
    // Rewritten once per refresh period (KON_RECORD_REFRESH_MS, 10 s by default) with
    // period + TTL + 1 s (recordTtlMs), so it never expires while the node beats.
    expect(stored?.header.get("Nats-TTL")).toBe("12s");
    expect(stored?.header.get("Kon-Status")).toBe("up");
    const kv = await new Kvm(nc).open("kon_nodes");
    expect((await kv.get("g1.a"))?.operation).toBe("PUT");
  });

  it("turns silence into exactly one node.down carrying the last heartbeat", async () => {
    sim.stop("a");
    const stoppedAt = Date.now();
    const events = await waitForEvents(nc, (e) => eventsOf(e, "a", "down").length === 1);
    const down = eventsOf(events, "a", "down")[0]!.event;
    expect(Number(down.lastHeartbeat?.seq)).toBe(sim.sent("a"));
    const jsm = await jetstreamManager(nc);
    const lastHb = await jsm.streams.getMessage("KON_HB", { last_by_subj: "kon.hb.g1.a" });
    // Last seen is KON_HB's time of the last beat, never the sender's clock.
    expect(Number(down.lastSeenMs)).toBe(lastHb?.time.getTime());
    expect(Number(down.detectedAtMs) - Number(down.lastSeenMs)).toBeGreaterThanOrEqual(TTL_MS - 50);
    expect(down.reason).toMatch(/ttl expired/);
    expect(down.suspect).toBe(false);
    // The id names the transition by the last heartbeat's KON_HB sequence, the same on every monitor.
    expect(down.eventId).toBe(`g1.a.down.${lastHb?.seq}`);

    // The server's own expiry marker (or none, after the tombstone) must not add a second down.
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 3 * TTL_MS - Date.now())));
    const later = await readNodeEvents(nc);
    expect(eventsOf(later, "a", "down")).toHaveLength(1);
    const tomb = await jsm.streams.getMessage("KV_kon_nodes", {
      last_by_subj: "$KV.kon_nodes.g1.a",
    });
    expect(tomb?.header.get("KV-Operation")).toBe("PURGE");
    expect(tomb?.header.get("Kon-Status")).toBe("down");
  });

  it("reports a returning node as up again and a graceful stop as left, never down", async () => {
    sim.resume("a");
    await waitForEvents(nc, (e) => eventsOf(e, "a", "up").length === 2);
    await sim.leave("a");
    const events = await waitForEvents(nc, (e) => eventsOf(e, "a", "left").length === 1);
    expect(eventsOf(events, "a", "left")[0]!.event.reason).toBe("graceful leave");
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    const later = await readNodeEvents(nc);
    expect(show(eventsOf(later, "a"))).toBe("up g1.a, down g1.a, up g1.a, left g1.a");
    expect(monitor.tracker.get("g1.a")?.status).toBe("left");
  });
});
