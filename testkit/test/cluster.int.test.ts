import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsCluster } from "@konorkestra/testkit";
import type { NatsCluster } from "@konorkestra/testkit";

describe("3-server NATS cluster", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await connect({
      ...cluster.clientOptions(),
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
    });
  });
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it("elects one JetStream meta leader among its servers", async () => {
    const leader = await cluster.waitForMetaLeader();
    expect(cluster.servers.map((s) => s.name)).toContain(leader);
  });

  it("keeps a replicated KV writable and readable with its stream leader stopped", async () => {
    const kv = await new Kvm(nc).create("cfg_cluster", { replicas: 3, history: 5 });
    await kv.put("service1", "v1");
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("KV_cfg_cluster");
    expect(info.config.num_replicas).toBe(3);
    const leaderName = info.cluster?.leader;
    const leader = cluster.servers.find((s) => s.name === leaderName)!;
    expect(leader).toBeDefined();

    await leader.shutdown();

    // A new stream leader is elected among the two left; writes go through once it is.
    const deadline = Date.now() + 20_000;
    let revision: number;
    for (;;) {
      try {
        revision = await kv.put("service1", "v2");
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(revision).toBe(2);
    expect((await kv.get("service1"))?.string()).toBe("v2");
    const after = await (await jetstreamManager(nc)).streams.info("KV_cfg_cluster");
    expect(after.cluster?.leader).toBeDefined();
    expect(after.cluster?.leader).not.toBe(leaderName);

    // The stopped server rejoins and catches up.
    await leader.restart();
    const rejoined = await connect(leader.clientOptions());
    try {
      const deadline2 = Date.now() + 20_000;
      for (;;) {
        const si = await (await jetstreamManager(rejoined)).streams.info("KV_cfg_cluster");
        const replica = si.cluster?.replicas?.find((r) => r.name === leaderName);
        if (replica?.current && si.state.last_seq === 2) break;
        if (Date.now() > deadline2) throw new Error(`replica ${leaderName} did not catch up`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await rejoined.close();
    }
  });
});
