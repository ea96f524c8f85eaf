import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { Monitor } from "../src/monitor";
import { eventually } from "./helpers/node-events";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";
import { MonitorFixture } from "./helpers/monitor-fixture";

/** The join key of group ga (the admin stand-in knows it). */
const TOKEN = "GA-JOIN-KEY-0123456789";

async function capped(m: Monitor, cap: string): Promise<number> {
  const metric = await m.metrics.capped.get();
  return metric.values.find((v) => v.labels.cap === cap)?.value ?? 0;
}

// Issue 11, item 9: invented node ids and group names must not grow the monitor or the streams
// without bound; each cap that bites is counted.
describe("monitor caps", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let monitor: Monitor;
  let keys: JoinKeyStandIn;

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    keys = await JoinKeyStandIn.start(fx.nats, { [TOKEN]: "ga" });
    monitor = await fx.monitor({
      monitorId: "caps1",
      maxGroups: 2,
      ingestMaxNodes: 2,
      ingestRatePerSec: 0.1,
      ingestBurst: 1,
    });
  });
  afterAll(async () => {
    await keys?.stop();
    await fx?.stop();
  });

  it("accepts at most maxGroups invented group names without a group list", async () => {
    const js = jetstream(nc);
    for (const g of ["ga", "gb", "gc"]) {
      await js.publish(`kon.hb.${g}.n1`, encodeMessage(Heartbeat, { seq: 1, intervalMs: 60_000 }));
    }
    await eventually(async () => (await capped(monitor, "groups")) >= 1, "group cap counted");
    expect(monitor.tracker.get("ga.n1")).toBeDefined();
    expect(monitor.tracker.get("gb.n1")).toBeDefined();
    expect(monitor.tracker.get("gc.n1")).toBeUndefined();
  });

  it("rate-limits at most ingestMaxNodes nodes over HTTP at once; more get 429", async () => {
    const hit = (node: string) =>
      fetch(`${monitor.url}/v1/heartbeat/ga/${node}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    expect((await hit("h1")).status).toBe(202);
    expect((await hit("h2")).status).toBe(202);
    const third = await hit("h3");
    expect(third.status).toBe(429);
    expect(await capped(monitor, "ingest_limiter")).toBe(1);
  });

  it("gives KON_HB and KON_EVENTS a byte cap and reports it", async () => {
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("KON_HB")).config.max_bytes).toBe(2 ** 30);
    expect((await jsm.streams.info("KON_EVENTS")).config.max_bytes).toBe(2 ** 28);
    await eventually(async () => {
      const g = await monitor.metrics.streamMaxBytes.get();
      return g.values.some((v) => v.labels.stream === "KON_HB" && v.value === 2 ** 30);
    }, "the cap as a metric");
  });
});
