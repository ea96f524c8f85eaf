import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startRedis } from "@konorkestra/testkit";
import type { NatsServer, RedisServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import type { MonitorOptions } from "../src/options";
import { eventually, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000;
const NODES = ["a", "b", "c", "d", "e", "f"];

async function claimsHandled(monitors: Monitor[], outcome: string): Promise<number> {
  let n = 0;
  for (const m of monitors) {
    const metric = await m.metrics.expirySignals.get();
    n += metric.values
      .filter((v) => v.labels.source === "claim" && v.labels.outcome === outcome)
      .reduce((sum, v) => sum + v.value, 0);
  }
  return n;
}

describe("monitor, Redis backend", () => {
  let nats: NatsServer;
  let redisServer: RedisServer;
  let nc: NatsConnection;
  let redis: Redis;
  let monitors: Monitor[] = [];
  let sim: NodeSimulator;
  let opts: (id: string) => MonitorOptions;

  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    nc = await connect(nats.clientOptions());
    redis = new Redis(redisServer.url);
    opts = (monitorId) => ({
      ...nats.clientOptions(),
      backend: "redis",
      redisUrl: redisServer.url,
      port: 0,
      monitorId,
      sweepIntervalMs: 50,
      memberLeaseMs: 2000,
      handoverMs: 2500,
    });
    monitors = await Promise.all([
      createMonitor(opts("r1"), { logger: silentLogger }),
      createMonitor(opts("r2"), { logger: silentLogger }),
    ]);
    await eventually(
      () => monitors.every((m) => m.membership.members().length === 2),
      "both joined",
    );
    sim = new NodeSimulator(nc, { group: "g1", intervalMs: 250, misses: 2 });
  });
  afterAll(async () => {
    sim?.close();
    for (const m of monitors) await m.close();
    redis?.disconnect();
    await nc?.close();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
  });

  it("keeps a key with a PX TTL, a record and a deadline per node", async () => {
    sim.start(NODES);
    await waitForEvents(nc, (e) => NODES.every((n) => eventsOf(e, n, "up").length === 1));
    await eventually(async () => (await redis.hlen("kon:state")) === NODES.length, "records");
    const pttl = await redis.pttl("kon:node:g1.a");
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(TTL_MS);
    // Record and deadline read together (MULTI): a beat between two reads moves both.
    const [[, json], [, score]] = (await redis
      .multi()
      .hget("kon:state", "g1.a")
      .zscore("kon:deadlines", "g1.a")
      .exec())! as [[unknown, string], [unknown, string]];
    const record = JSON.parse(json) as Record<string, unknown>;
    expect(record).toMatchObject({
      status: "up",
      ttlMs: TTL_MS,
      intervalMs: 250,
      allowedMisses: 2,
    });
    expect(Number(score)).toBe(Number(record.lastAtMs) + TTL_MS);
  });

  it("claims each expired deadline once across monitors and reports one down", async () => {
    const stopped = ["b", "e"];
    for (const n of stopped) sim.stop(n);
    await waitForEvents(nc, (e) => stopped.every((n) => eventsOf(e, n, "down").length === 1));
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    const events = await readNodeEvents(nc);
    for (const n of stopped) expect(eventsOf(events, n, "down")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "down")).toHaveLength(2);
    // One claim judged each down: the Lua claim handed every deadline to one monitor only.
    expect(await claimsHandled(monitors, "down")).toBe(2);
    expect(JSON.parse((await redis.hget("kon:state", "g1.b"))!)).toMatchObject({ status: "down" });
    expect(await redis.zscore("kon:deadlines", "g1.b")).toBeNull();
    expect(await redis.zcard("kon:claimed")).toBe(0);
    expect(await redis.exists("kon:node:g1.b")).toBe(0);
  });

  it("keeps state across a full restart: a node that stopped meanwhile is reported once", async () => {
    await Promise.all(monitors.map((m) => m.close()));
    sim.stop("c");
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    monitors = [await createMonitor(opts("r1"), { logger: silentLogger })];
    await waitForEvents(nc, (e) => eventsOf(e, "c", "down").length === 1);
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    const events = await readNodeEvents(nc);
    const downs = events.filter((e) => e.kind !== "up").map((e) => `${e.kind} ${e.node}`);
    expect(downs.sort()).toEqual(["down b", "down c", "down e"]);
    expect(events.filter((e) => e.kind === "up")).toHaveLength(NODES.length);
  });
});
