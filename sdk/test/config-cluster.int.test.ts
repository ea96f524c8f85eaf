import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { Konorkestra, silentLogger } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import type { ConfigHandle } from "../src/config/config-handle";
import { startNatsCluster } from "@konorkestra/testkit";
import type { NatsCluster } from "@konorkestra/testkit";
import { putConfig } from "./helpers/put-config";
import { retrying, waitFor } from "./helpers/wait-for";

const Flag = z.object({ n: z.number() });

describe("config watch on a 3-server cluster (replicas 3)", () => {
  let cluster: NatsCluster;
  let writer: NatsConnection;
  let snapshotDir: string;
  const kons: Konorkestra[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    writer = await connect({
      ...cluster.clientOptions(),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    await ensureConfigBucket(writer, wireNames(), "cl", { replicas: 3 });
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-cfg-cluster-"));
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    await writer?.close();
    await cluster?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("loses no committed change when the stream leader stops", async () => {
    // A new R3 stream may need a moment to elect its leader.
    await retrying(() => putConfig(writer, "cl", "flag", { n: 0 }));
    const info = await (await jetstreamManager(writer)).streams.info("KV_cfg_cl");
    expect(info.config.num_replicas).toBe(3);
    const leader = cluster.servers.find((s) => s.name === info.cluster?.leader);
    expect(leader).toBeDefined();
    const others = cluster.servers.filter((s) => s !== leader);
    const handles: ConfigHandle<{ n: number }>[] = [];
    const seen: number[][] = [];
    // Watcher 0 is connected to the stream leader, so it loses its server too; it learns the
    // other servers from the cluster's INFO and fails over to one of them.
    for (const [i, server] of [leader!, ...others].entries()) {
      const k = await Konorkestra.connect({
        ...server.clientOptions(),
        group: "cl",
        nodeId: `w${i}`,
        replicas: 3,
        snapshotDir,
        logger: silentLogger,
      });
      kons.push(k);
      expect(k.connection?.info?.server_name).toBe(server.name);
      const cfg = await k.config("flag", Flag);
      const mine: number[] = [];
      cfg.onChange((next) => {
        mine.push(next.n);
      });
      handles.push(cfg);
      seen.push(mine);
    }
    for (let n = 1; n <= 5; n++) await putConfig(writer, "cl", "flag", { n });

    await leader!.shutdown();

    let last = 0;
    for (let n = 6; n <= 12; n++) {
      // A write is committed once acknowledged (quorum); retry through the failover.
      last = await retrying(() => putConfig(writer, "cl", "flag", { n }), 30_000);
    }
    await waitFor(
      "every watcher at the last revision",
      () => handles.every((h) => h.revision === last),
      20_000,
    );
    const all = Array.from({ length: 12 }, (_, i) => i + 1);
    for (const mine of seen) expect(mine).toEqual(all);
    const after = await (await jetstreamManager(writer)).streams.info("KV_cfg_cl");
    expect(after.cluster?.leader).not.toBe(leader!.name);
    expect(kons[0]!.connection?.info?.server_name).not.toBe(leader!.name);
  });
});
