import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerInfo } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { Konorkestra } from "../src";
import type { OfflineStart } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig } from "./helpers/put-config";
import { recordingLogger, retrying, waitFor } from "./helpers/wait-for";

const Flag = z.object({ n: z.number() });

describe("config watch recovery", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let snapshotDir: string;
  const kons: Konorkestra[] = [];

  async function kon(
    group: string,
    nodeId: string,
    logger = recordingLogger(),
    connectTimeoutMs = 3000,
    offlineStart: OfflineStart = "auto",
  ): Promise<Konorkestra> {
    const k = await Konorkestra.connect({
      ...nats.clientOptions(),
      group,
      nodeId,
      snapshotDir,
      logger,
      connectTimeoutMs,
      offlineStart,
    });
    kons.push(k);
    return k;
  }

  async function consumers(group: string): Promise<ConsumerInfo[]> {
    return (await jetstreamManager(admin)).consumers.list(`KV_cfg_${group}`).next();
  }

  beforeAll(async () => {
    nats = await startNats();
    // The admin connection outlives server restarts.
    admin = await connect({
      ...nats.clientOptions(),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    for (const g of ["r1", "r2", "r3", "r4"]) await ensureConfigBucket(admin, wireNames(), g);
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-cfg-recovery-"));
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    await admin?.close();
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("re-creates a consumer deleted on the server and catches up within 2 s", async () => {
    await putConfig(admin, "r1", "flag", { n: 0 });
    const logger = recordingLogger();
    const k = await kon("r1", "n1", logger);
    const cfg = await k.config("flag", Flag);
    const seen: number[] = [];
    cfg.onChange((next) => {
      seen.push(next.n);
    });
    const [before] = await consumers("r1");
    expect(before).toBeDefined();
    await (await jetstreamManager(admin)).consumers.delete("KV_cfg_r1", before!.name);
    const deletedAt = Date.now();
    const rev = await putConfig(admin, "r1", "flag", { n: 1 });
    await waitFor("catch-up after consumer deletion", () => cfg.revision === rev, 2000);
    expect(Date.now() - deletedAt).toBeLessThan(2000);
    expect(seen).toEqual([1]);
    const after = await consumers("r1");
    expect(after).toHaveLength(1);
    expect(after[0]!.name).not.toBe(before!.name);
    // Resumed at the last revision it had applied (rev - 1) + 1, not from the start.
    expect(after[0]!.config.opt_start_seq).toBe(rev);
    expect(logger.lines.join("\n")).toMatch(/re-creating its consumer \(consumer \w+ is gone/);

    // With no write to notice, the heartbeat silence alone brings the consumer back.
    await (await jetstreamManager(admin)).consumers.delete("KV_cfg_r1", after[0]!.name);
    const silentAt = Date.now();
    let replaced: ConsumerInfo[] = [];
    await waitFor(
      "a replacement consumer",
      async () => (replaced = await consumers("r1")).length === 1,
      2000,
    );
    expect(Date.now() - silentAt).toBeLessThan(2000);
    expect(replaced[0]!.config.opt_start_seq).toBe(rev + 1);
    expect(logger.lines.join("\n")).toMatch(/re-creating its consumer \(no message or heartbeat/);
    const rev2 = await putConfig(admin, "r1", "flag", { n: 2 });
    await waitFor("the next change", () => cfg.revision === rev2);
    expect(seen).toEqual([1, 2]);
  });

  it("resumes from the last applied revision after a server restart, without replays", async () => {
    await putConfig(admin, "r2", "flag", { n: 0 });
    const k = await kon("r2", "n2");
    const cfg = await k.config("flag", Flag);
    const seen: number[] = [];
    cfg.onChange((next) => {
      seen.push(next.n);
    });
    const r1 = await putConfig(admin, "r2", "flag", { n: 1 });
    await waitFor("first change", () => cfg.revision === r1);
    await nats.restart();
    const r2 = await retrying(() => putConfig(admin, "r2", "flag", { n: 2 }));
    await waitFor("change after restart", () => cfg.revision === r2, 10_000);
    const r3 = await putConfig(admin, "r2", "flag", { n: 3 });
    await waitFor("next change", () => cfg.revision === r3);
    expect(seen).toEqual([1, 2, 3]);
    const list = await consumers("r2");
    expect(list).toHaveLength(1);
    expect(list[0]!.config.opt_start_seq).toBeGreaterThan(r1);
  });

  it("starts on the last-known-good snapshot while NATS is down, then catches up", async () => {
    const first = await kon("r3", "n3");
    const rev = await putConfig(admin, "r3", "flag", { n: 7 }, { gitCommit: "c7" });
    const live = await first.config("flag", Flag);
    expect(live.revision).toBe(rev);
    await first.close(); // writes the snapshot

    await nats.shutdown();
    const logger = recordingLogger();
    const k = await kon("r3", "n3", logger, 200);
    expect(k.online).toBe(false);
    const cfg = await k.config("flag", Flag);
    expect(cfg.value).toEqual({ n: 7 });
    expect(cfg.source).toBe("snapshot");
    expect(cfg.stale).toBe(true);
    expect(cfg.meta).toMatchObject({ revision: rev, gitCommit: "c7" });
    expect(logger.lines.join("\n")).toMatch(
      /warn starting on last-known-good snapshot from \d{4}-/,
    );
    const seen: number[] = [];
    cfg.onChange((next, prev, meta) => {
      seen.push(prev.n, next.n, meta.revision);
    });

    await nats.restart();
    const rev2 = await retrying(() => putConfig(admin, "r3", "flag", { n: 8 }));
    await waitFor("catch-up after NATS returned", () => cfg.revision === rev2, 15_000);
    expect(cfg.source).toBe("nats");
    expect(cfg.stale).toBe(false);
    expect(seen).toEqual([7, 8, rev2]);
    const said = logger.lines.join("\n");
    expect(said).toMatch(
      /info connected to NATS at nats:\/\/127\.0\.0\.1:\d+ after [\d.]+ s offline/,
    );
    expect(said).toMatch(
      /info left snapshot mode: config of group r3 is live from NATS again \(1 keys loaded from bucket cfg_r3\) after [\d.]+ s on the snapshot/,
    );
    expect(k.applied.get("flag")?.revision).toBe(rev2);
  });

  it("reloads every key when the bucket's stream is re-created", async () => {
    await putConfig(admin, "r4", "flag", { n: 1 });
    const logger = recordingLogger();
    const k = await kon("r4", "n5", logger);
    const cfg = await k.config("flag", Flag);
    const seen: number[] = [];
    cfg.onChange((next) => {
      seen.push(next.n);
    });
    const before = await putConfig(admin, "r4", "flag", { n: 2 });
    await waitFor("second value", () => cfg.revision === before);
    await (await jetstreamManager(admin)).streams.delete("KV_cfg_r4");
    await ensureConfigBucket(admin, wireNames(), "r4");
    const rev = await retrying(() => putConfig(admin, "r4", "flag", { n: 3 }));
    expect(rev).toBeLessThan(before); // a new stream counts from 1 again
    await waitFor("reload of the new stream", () => cfg.revision === rev, 5000);
    expect(seen).toEqual([2, 3]);
    expect(logger.lines.join("\n")).toMatch(/reloading every key/);
  });

  it("says what is missing when NATS is down and there is no snapshot", async () => {
    await nats.shutdown();
    try {
      // By default a service that never started here does not start without NATS.
      await expect(kon("nosnap", "n4", recordingLogger(), 100)).rejects.toMatchObject({
        code: "NATS_UNREACHABLE",
        message: expect.stringMatching(/no snapshot of group nosnap from these servers/) as string,
      });
      const k = await kon("nosnap", "n4", recordingLogger(), 100, "snapshot");
      await expect(k.config("flag", Flag, { readyTimeoutMs: 100 })).rejects.toMatchObject({
        code: "CONFIG_UNAVAILABLE",
        message: expect.stringMatching(/no last-known-good snapshot of group nosnap/) as string,
      });
      const d = await k.config("flag", Flag, { default: { n: -1 } });
      expect(d.source).toBe("default");
    } finally {
      await nats.restart();
    }
  });
});
