import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@konorkestra/sdk";
import { startNatsCluster } from "@konorkestra/testkit";
import type { NatsCluster } from "@konorkestra/testkit";
import { createConfigLoader } from "../src/config-loader";
import type { ConfigLoader } from "../src/config-loader";
import { put, waitFor, withTimeout } from "./loader-harness";

describe("config-loader on a 3-server cluster", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let loader: ConfigLoader | undefined;
  let root: string;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await connect({ ...cluster.clientOptions() });
    root = realpathSync(mkdtempSync(join(tmpdir(), "kon-loader-cluster-")));
  });
  afterAll(async () => {
    await loader?.stop();
    await nc?.close();
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("creates replicated buckets with the configured history and writes change sets atomically", async () => {
    put(root, "cl1/a.json", '{"v": 1}');
    put(root, "cl1/b.json", '{"v": 1}');
    loader = createConfigLoader(
      {
        configDir: root,
        ...cluster.clientOptions(),
        port: 0,
        resyncMs: 0,
        git: false,
        replicas: 3,
        history: 32,
        debounceMs: 50,
      },
      silentLogger,
    );
    await loader.start();
    await withTimeout(loader.whenReady(), 30_000, "first reconcile");

    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("KV_cfg_cl1");
    expect(info.config.num_replicas).toBe(3);
    expect(info.config.max_msgs_per_subject).toBe(32);
    expect(info.config.allow_atomic).toBe(true);
    expect(info.state.last_seq).toBe(2);

    put(root, "cl1/a.json", '{"v": 2}');
    put(root, "cl1/b.json", '{"v": 2}');
    put(root, "cl1/c.json", '{"v": 2}');
    await waitFor(
      async () => ((await jsm.streams.info("KV_cfg_cl1")).state.last_seq >= 5 ? true : undefined),
      "3 more",
      20_000,
    );
    const msgs = await Promise.all(
      [3, 4, 5].map((seq) => jsm.streams.getMessage("KV_cfg_cl1", { seq })),
    );
    // Written synchronously, so all three land in one debounce window: one change set, one batch.
    expect(new Set(msgs.map((m) => m!.header.get("Kon-Change-Set"))).size).toBe(1);
    expect(msgs.map((m) => m!.header.get("Kon-Change-Set-Size"))).toEqual(["3", "3", "3"]);
    expect(msgs[2]!.header.get("Nats-Batch-Commit")).toBe("1");
  });
});
