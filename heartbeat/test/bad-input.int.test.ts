import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { describe as show, eventually, readNodeEvents } from "./helpers/node-events";
import { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000;

async function counter(m: Monitor, name: "rejected" | "flagged", label: string): Promise<number> {
  const metric = await m.metrics[name].get();
  return metric.values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
}

describe("bad heartbeats", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let monitor: Monitor;
  let sim: NodeSimulator;
  let groupsKv: KV;
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(nats.clientOptions());
    // Groups are known from KON_GROUPS and from the group registry bucket.
    groupsKv = await new Kvm(nc).create("kon_groups");
    monitor = await createMonitor(
      {
        ...nats.clientOptions(),
        port: 0,
        // This file tests the API's answers; api-auth.int.test.ts tests its access tokens.
        auth: false,
        monitorId: "b1",
        groups: ["g1"],
        maxMetaBytes: 256,
        nodeRatePerSec: 10,
        nodeBurst: 10,
        sweepIntervalMs: 50,
      },
      { logger },
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

  it("drops malformed protobuf, unknown groups and bad node ids: counted and logged, no node, no event", async () => {
    const js = jetstream(nc);
    await js.publish("kon.hb.g1.garbage", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    const valid = (group: string, node: string) =>
      encodeMessage(Heartbeat, {
        group,
        nodeId: node,
        seq: 1,
        sentAtMs: Date.now(),
        intervalMs: 250,
        allowedMisses: 2,
      });
    await js.publish("kon.hb.other.n1", valid("other", "n1"));
    await js.publish("kon.hb.g1.bad$id", valid("g1", "bad$id"));
    await js.publish("kon.hb.g1.n1", valid("g1", "someone-else"));
    await js.publish("kon.hb.g1.n1.extra", valid("g1", "n1"));
    await eventually(
      async () => (await counter(monitor, "rejected", "bad_subject")) === 1,
      "all five counted",
    );
    expect(await counter(monitor, "rejected", "malformed")).toBe(1);
    expect(await counter(monitor, "rejected", "unknown_group")).toBe(1);
    expect(await counter(monitor, "rejected", "bad_node")).toBe(2);
    expect(monitor.tracker.size).toBe(0);
    expect(warnings.join("\n")).toMatch(
      /dropped heartbeat on kon.hb.g1.garbage .*cannot decode konorkestra.v1.Heartbeat/,
    );
    expect(warnings.join("\n")).toMatch(/kon.hb.other.n1 .*group other is not known/);
    // One line per reason and period: the second bad node id is counted, not logged again.
    expect(warnings.filter((w) => /dropped heartbeat/.test(w))).toHaveLength(4);
  });

  it("accepts a group added to the kon_groups bucket while it runs", async () => {
    await groupsKv.put("late", "{}");
    const late = new NodeSimulator(nc, { group: "late", intervalMs: 250, misses: 2 });
    try {
      await eventually(async () => {
        await late.beatOnce("n1");
        return monitor.tracker.get("late.n1") !== undefined;
      }, "a heartbeat of group late accepted");
    } finally {
      late.close();
    }
  });

  it("keeps a skewed heartbeat and one with oversized meta, flagged, and reports those nodes up", async () => {
    await sim.beatOnce("skewed", { sentAtMs: Date.now() - 3_600_000 });
    await sim.beatOnce("chatty-meta", { meta: { big: "x".repeat(1000) } });
    await eventually(
      () => ["g1.skewed", "g1.chatty-meta"].every((k) => monitor.tracker.get(k)),
      "both nodes tracked",
    );
    expect(await counter(monitor, "flagged", "clock_skew")).toBe(1);
    expect(await counter(monitor, "flagged", "oversized_meta")).toBe(1);
    const skewed = (await (await fetch(`${monitor.url}/v1/nodes/g1/skewed`)).json()) as {
      status: string;
      clockSkewMs: number;
    };
    expect(skewed.status).toBe("up");
    expect(skewed.clockSkewMs).toBeLessThan(-3_500_000);
    const meta = (await (await fetch(`${monitor.url}/v1/nodes/g1/chatty-meta`)).json()) as {
      meta: object;
    };
    expect(meta.meta).toEqual({});
  });

  it("rate-limits a flood from one node without a false event, and survives it all", async () => {
    sim.start(["flooder"]);
    for (let i = 0; i < 300; i++)
      nc.publish(
        "kon.hb.g1.flooder",
        encodeMessage(Heartbeat, {
          group: "g1",
          nodeId: "flooder",
          seq: 1000 + i,
          sentAtMs: Date.now(),
          intervalMs: 250,
          allowedMisses: 2,
        }),
      );
    await nc.flush();
    await eventually(
      async () => (await counter(monitor, "rejected", "flood")) > 200,
      "flood dropped",
    );
    // The flooder keeps beating normally afterwards: it stays up, with no down in between.
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    expect(monitor.tracker.get("g1.flooder")?.status).toBe("up");
    const events = await readNodeEvents(nc);
    expect(show(events.filter((e) => e.node === "flooder"))).toBe("up g1.flooder");
    // skewed and chatty-meta beat once: their only events are up, then down after the TTL.
    expect(show(events.filter((e) => e.group === "g1" && e.node !== "flooder"))).toBe(
      "up g1.skewed, up g1.chatty-meta, down g1.skewed, down g1.chatty-meta",
    );
    expect(warnings.some((w) => /rate-limited heartbeats of g1.flooder/.test(w))).toBe(true);
    expect((await fetch(`${monitor.url}/healthz`)).status).toBe(200);
  });
});
