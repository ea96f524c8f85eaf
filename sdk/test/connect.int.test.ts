import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { KonError, Konorkestra, silentLogger } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";

describe("Konorkestra.connect", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("connects, creates the shared streams, and closes", async () => {
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g1",
      nodeId: "n1",
      logger: silentLogger,
    });
    try {
      expect(kon.online).toBe(true);
      expect(kon.nodeId).toBe("n1");
      expect(kon.nodeIdSource).toBe("explicit");
      const jsm = await jetstreamManager(await kon.nats());
      const hb = await jsm.streams.info("KON_HB");
      expect(hb.config.subjects).toEqual(["kon.hb.>"]);
      const evt = await jsm.streams.info("KON_EVENTS");
      expect(evt.config.subjects).toEqual(["kon.evt.>"]);
      expect(evt.config.duplicate_window).toBeGreaterThan(0);
    } finally {
      await kon.close();
    }
    expect(kon.connection?.isClosed()).toBe(true);
  });

  it("starts offline when asked to (offlineStart snapshot) and says when it got online", async () => {
    await nats.shutdown();
    const lines: string[] = [];
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g1",
      nodeId: "n2",
      connectTimeoutMs: 200,
      offlineStart: "snapshot",
      logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: () => undefined },
    });
    try {
      expect(kon.online).toBe(false);
      expect(lines.join("\n")).toMatch(
        /unreachable after 200 ms \(connection refused \(ECONNREFUSED\)\); starting offline \(offlineStart snapshot\)/,
      );
      await nats.restart();
      const nc = await kon.nats();
      expect(nc.isClosed()).toBe(false);
      expect(kon.online).toBe(true);
      expect(lines.join("\n")).toMatch(
        /connected to NATS at nats:\/\/127\.0\.0\.1:\d+ after [\d.]+ s offline/,
      );
    } finally {
      await kon.close();
    }
  });

  it("close before the first connection ends the retry loop and rejects waiters", async () => {
    await nats.shutdown();
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g1",
      nodeId: "n3",
      connectTimeoutMs: 50,
      offlineStart: "snapshot",
      logger: silentLogger,
    });
    const waiting = kon.nats();
    await kon.close();
    await expect(waiting).rejects.toMatchObject({ code: "CLOSED" });
    await nats.restart();
  });

  it("names the bad option", async () => {
    await expect(Konorkestra.connect({ group: "Bad Group", nodeId: "n" })).rejects.toThrow(
      /invalid option group: use 1-63 of \[a-z0-9-\]/,
    );
    await expect(
      Konorkestra.connect({ group: "g", nodeId: "n", configSource: "s3:x" }),
    ).rejects.toThrow(KonError);
    await expect(Konorkestra.connect({ group: "g", nodeId: "a.b" })).rejects.toThrow(
      /invalid node id "a.b"/,
    );
  });
});

describe("ensureConfigBucket", () => {
  it("creates cfg_<group> with history and atomic batches, idempotently", async () => {
    const server = await startNats();
    const nc = await connect(server.clientOptions());
    try {
      const names = wireNames();
      await ensureConfigBucket(nc, names, "payments", { history: 40 });
      await ensureConfigBucket(nc, names, "payments", { history: 40 });
      const info = await (await jetstreamManager(nc)).streams.info("KV_cfg_payments");
      expect(info.config.allow_atomic).toBe(true);
      expect(info.config.max_msgs_per_subject).toBe(40);
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
