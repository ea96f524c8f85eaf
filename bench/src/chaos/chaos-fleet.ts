import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { wireNames } from "@konorkestra/sdk/internal";
import type { TestClientOptions } from "@konorkestra/testkit";
import { NodeSimulator } from "../liveness/node-simulator";

/** Interval and allowed misses of every simulated node: TTL 3 s, as the SDK's defaults. */
export const FLEET_INTERVAL_MS = 1000;
export const FLEET_MISSES = 3;

/**
 * The simulated fleet of a drill run: N nodes beating over core NATS as the SDK does (the
 * liveness bench's {@link NodeSimulator}), on a connection that reconnects for ever. Like the
 * SDK's heartbeat client it builds no beat while disconnected (nats.js drops its outgoing buffer
 * on a reconnect attempt, so a queued beat would be lost or late). `kill()` stops nodes without
 * a word, as a crash would, and notes when.
 */
export class ChaosFleet {
  readonly nodeIds: string[];
  /** Node id → Date.now() of its kill. */
  readonly killedAtMs = new Map<string, number>();
  /** Beats not sent because the connection was down. */
  skipped = 0;
  sent = 0;
  private connected = true;
  private readonly sim: NodeSimulator;
  private nextPick = 0;

  private constructor(
    private readonly nc: NatsConnection,
    readonly group: string,
    nodes: number,
  ) {
    const names = wireNames();
    this.nodeIds = Array.from({ length: nodes }, (_, i) => `sim-${String(i).padStart(4, "0")}`);
    this.sim = new NodeSimulator(
      {
        send: (node, payload) => {
          if (!this.connected) {
            this.skipped++;
            return;
          }
          this.sent++;
          nc.publish(names.heartbeatSubject(group, node), payload);
        },
      },
      {
        group,
        nodeIds: this.nodeIds,
        intervalMs: FLEET_INTERVAL_MS,
        allowedMisses: FLEET_MISSES,
      },
    );
    void this.followStatus();
  }

  static async start(client: TestClientOptions, group: string, nodes: number): Promise<ChaosFleet> {
    const nc = await connect({
      ...client,
      name: "chaos-fleet",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const fleet = new ChaosFleet(nc, group, nodes);
    fleet.sim.start();
    return fleet;
  }

  /** Nodes still beating. */
  get live(): string[] {
    return this.nodeIds.filter((n) => !this.killedAtMs.has(n));
  }

  /** Kills `count` live nodes (spread over the fleet by a fixed stride) and returns their ids. */
  kill(count: number): string[] {
    const killed: string[] = [];
    const n = this.nodeIds.length;
    while (killed.length < count && this.killedAtMs.size < n - 1) {
      // A stride coprime with most fleet sizes walks the whole fleet before repeating.
      this.nextPick = (this.nextPick + 17) % n;
      const id = this.nodeIds[this.nextPick]!;
      if (this.killedAtMs.has(id)) continue;
      this.killedAtMs.set(id, Date.now());
      this.sim.stop([this.nextPick]);
      killed.push(id);
    }
    return killed;
  }

  /** The simulator's own lateness: a late timer makes nodes look silent (not the monitor's fault). */
  maxLatenessMs(): number {
    return this.sim.stats().maxLatenessAllMs;
  }

  async close(): Promise<void> {
    this.sim.close();
    await this.nc.close();
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.connected = false;
      else if (s.type === "reconnect") this.connected = true;
    }
  }
}
