import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { KonError } from "../src";
import { Konorkestra, StaleConfigError, silentLogger } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig } from "./helpers/put-config";
import { retrying, sleep, waitFor } from "./helpers/wait-for";

const Limits = z.object({ n: z.number() });

// cfg.guard against a real nats-server: runs work on a confirmed value, refuses it (STALE_CONFIG,
// fn not called) while the server is gone or a received revision is not applied, and runs again
// once the server is back.
describe("cfg.guard", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let snapshotDir: string;
  let kon: Konorkestra;

  beforeAll(async () => {
    nats = await startNats();
    admin = await connect({
      ...nats.clientOptions(),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    await ensureConfigBucket(admin, wireNames(), "sg");
    await putConfig(admin, "sg", "limits", { n: 1 });
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-stale-guard-"));
    kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "sg",
      nodeId: "guarded",
      snapshotDir,
      logger: silentLogger,
      connectTimeoutMs: 3000,
    });
  });
  afterAll(async () => {
    await kon?.close();
    await admin?.close();
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("runs fn with the current value while the watch is healthy, and returns its result", async () => {
    const cfg = await kon.config("limits", Limits);
    await expect(cfg.guard((v) => v.n * 10, { maxStalenessMs: 1000 })).resolves.toBe(10);
    const rev = await putConfig(admin, "sg", "limits", { n: 2 });
    await waitFor("revision applied", () => cfg.revision === rev);
    // A bound below the watch's heartbeat period forces a confirmation by direct get.
    await expect(cfg.guard(async (v) => Promise.resolve(v.n), { maxStalenessMs: 1 })).resolves.toBe(
      2,
    );
  });

  it("refuses a bad bound with INVALID_OPTIONS", async () => {
    const cfg = await kon.config("limits", Limits);
    for (const bad of [0, -5, 1.5, Number.NaN]) {
      await expect(cfg.guard(() => 1, { maxStalenessMs: bad })).rejects.toMatchObject({
        code: "INVALID_OPTIONS",
      });
    }
  });

  it("refuses while a received revision waits behind a slow handler", async () => {
    const cfg = await kon.config("limits", Limits);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const off = cfg.onChange(() => held);
    const rev = await putConfig(admin, "sg", "limits", { n: 3 });
    const rev2 = await putConfig(admin, "sg", "limits", { n: 4 });
    await waitFor("first swap started", () => cfg.revision === rev);
    let called = false;
    const err = await cfg
      .guard(() => (called = true), { maxStalenessMs: 1, confirmTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(err).toBeInstanceOf(StaleConfigError);
    expect((err as KonError).code).toBe("STALE_CONFIG");
    expect((err as StaleConfigError).revision).toBe(rev);
    expect((err as Error).message).toMatch(
      new RegExp(`revision ${rev2} (was received|not applied)`),
    );
    off();
    release();
    await waitFor("second swap", () => cfg.revision === rev2);
    await expect(cfg.guard((v) => v.n, { maxStalenessMs: 1000 })).resolves.toBe(4);
  });

  it("throws STALE_CONFIG while NATS is down (what and since when), and runs again after", async () => {
    const cfg = await kon.config("limits", Limits);
    await expect(cfg.guard(() => "ok", { maxStalenessMs: 500 })).resolves.toBe("ok");
    const cutAt = Date.now();
    await nats.shutdown();
    try {
      await sleep(700);
      let called = false;
      const err = await cfg
        .guard(() => (called = true), { maxStalenessMs: 500, confirmTimeoutMs: 300 })
        .catch((e: unknown) => e);
      expect(called).toBe(false);
      expect(err).toBeInstanceOf(StaleConfigError);
      const stale = err as StaleConfigError;
      expect(stale.code).toBe("STALE_CONFIG");
      expect(stale.key).toBe("limits");
      expect(stale.revision).toBe(cfg.revision);
      // The last proof predates the cut (give the heartbeat period of slack).
      expect(stale.staleSinceMs).toBeDefined();
      expect(stale.staleSinceMs!).toBeLessThanOrEqual(cutAt + 50);
      expect(stale.staleSinceMs!).toBeGreaterThan(cutAt - 1500);
      expect(stale.message).toMatch(/no message or heartbeat from NATS since \d{4}-/);
      expect(stale.message).toMatch(/confirming with NATS failed/);
      // The value stays readable: only guarded work is refused.
      expect(cfg.value.n).toBe(4);
    } finally {
      await nats.restart();
    }
    const rev = await retrying(() => putConfig(admin, "sg", "limits", { n: 5 }));
    await waitFor(
      "guard runs again",
      async () => (await cfg.guard((v) => v.n, { maxStalenessMs: 500 }).catch(() => -1)) === 5,
      10_000,
    );
    expect(cfg.revision).toBe(rev);
  });
});
