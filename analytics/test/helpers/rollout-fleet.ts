import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigEntry, encodeMessage } from "@konorkestra/proto";
import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import type { ConfigHandle } from "@konorkestra/sdk";
import { ensureConfigBucket } from "@konorkestra/sdk/internal";
import type { NatsServer } from "@konorkestra/testkit";
import { z } from "zod";
import type { FleetSimulator } from "./fleet-simulator";

export const GROUP = "ro";
export const KEY = "svc";
const Svc = z.object({ n: z.number() });
/** Node c's schema: it refuses any n above 5. */
const Strict = z.object({ n: z.number().max(5) });
const Gate = z.object({ hold: z.boolean() });

/**
 * A rollout with real SDK connections of group `ro` on key `svc`, each heartbeating and sending
 * `config.applied` as any service would:
 * - a, b: accept everything;
 * - c: its schema refuses n > 5 (sends `config.rejected`);
 * - d: lags: a change of key `gate` runs a handler that waits for `releaseLag()`, and every later
 *   change (svc included) queues behind it, as behind any slow handler;
 * - e: applies the first revision, then goes offline (closed, and reported down as the monitor
 *   would report it).
 * Values are written to KV and announced with a `config.published` event, as the loader does.
 */
export class RolloutFleet {
  readonly nodes = new Map<string, Konorkestra>();
  readonly handles = new Map<string, ConfigHandle<{ n: number }>>();
  private release: () => void = () => undefined;
  private readonly snapshotDir = mkdtempSync(join(tmpdir(), "kon-rollout-"));

  constructor(
    private readonly nats: NatsServer,
    private readonly sim: FleetSimulator,
  ) {}

  /** Writes `svc = {n}` and its published event. @returns the revision and the event's time */
  async publish(n: number, key = KEY): Promise<{ revision: number; atMs: number }> {
    const kv = await ensureConfigBucket(this.sim.nc, this.sim.names, GROUP);
    const payload = Buffer.from(JSON.stringify(key === KEY ? { n } : { hold: n > 0 }));
    const sha256 = createHash("sha256").update(payload).digest("hex");
    const atMs = Date.now();
    const revision = await kv.put(
      key,
      encodeMessage(ConfigEntry, {
        key,
        payload,
        contentType: "application/json",
        sha256,
        sourcePath: `${GROUP}/${key}.json`,
        updatedAtMs: atMs,
        publishedBy: "test-loader",
      }),
    );
    await this.sim.configEvent(GROUP, "published", { key, revision, sha256, atMs });
    return { revision, atMs };
  }

  /** Connects node `id` with the schema of its role, opens svc and starts heartbeats. */
  async join(id: string): Promise<ConfigHandle<{ n: number }>> {
    const kon = await Konorkestra.connect({
      ...this.nats.clientOptions(),
      group: GROUP,
      nodeId: id,
      snapshotDir: this.snapshotDir,
      logger: silentLogger,
    });
    this.nodes.set(id, kon);
    if (id === "d") {
      const gate = await kon.config("gate", Gate, { default: { hold: false } });
      const held = new Promise<void>((r) => (this.release = r));
      gate.onChange((v) => (v.hold ? held : undefined));
    }
    const cfg = await kon.config(KEY, id === "c" ? Strict : Svc);
    this.handles.set(id, cfg);
    kon.heartbeat({ intervalMs: 300 });
    return cfg;
  }

  /** Makes d's queue wait (a change of `gate` whose handler blocks) until {@link releaseLag}. */
  async holdLag(): Promise<void> {
    await this.publish(1, "gate");
  }

  releaseLag(): void {
    this.release();
  }

  /** Closes e and reports it down (what the monitor does when its heartbeats stop). */
  async takeOffline(id: string): Promise<void> {
    await this.nodes.get(id)?.close();
    this.nodes.delete(id);
    await this.sim.event(GROUP, id, "down", { atMs: Date.now() });
  }

  appliedAt(id: string): number {
    return this.nodes.get(id)!.applied.get(KEY)!.appliedAtMs;
  }

  async close(): Promise<void> {
    this.release();
    for (const k of this.nodes.values()) await k.close();
    rmSync(this.snapshotDir, { recursive: true, force: true });
  }
}
