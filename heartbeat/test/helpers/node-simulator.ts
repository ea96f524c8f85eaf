import { randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";

/** Settings of simulated nodes. */
export interface SimulatorOptions {
  group: string;
  /** @default "kon" */
  prefix?: string;
  /** @default 1000 */
  intervalMs?: number;
  /** @default 3 */
  misses?: number;
  /** Tick of the single scheduling timer. @default 20 */
  tickMs?: number;
}

interface SimNode {
  node: string;
  seq: number;
  instanceId: string;
  startedAt: number;
  nextAt: number;
  beating: boolean;
  meta: Record<string, string>;
}

/**
 * Nodes that publish protobuf `Heartbeat`s on `<prefix>.hb.<group>.<node>` as the SDK would,
 * without the SDK's client (only its wire names): tests of the monitor must not depend on the client. One timer drives
 * every node (each at its own phase), so it scales to the 10,000 nodes of the benchmark.
 */
export class NodeSimulator {
  private readonly nodes = new Map<string, SimNode>();
  private readonly timer: NodeJS.Timeout;
  readonly intervalMs: number;
  readonly misses: number;
  private readonly names: WireNames;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: SimulatorOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.misses = opts.misses ?? 3;
    this.names = wireNames(opts.prefix ?? "kon");
    this.timer = setInterval(() => this.tick(), opts.tickMs ?? 20);
  }

  /** Starts nodes beating, the first beat at once, phases spread over one interval. */
  start(nodes: string[], meta: Record<string, string> = {}): void {
    const now = Date.now();
    nodes.forEach((node, i) => {
      const phase = nodes.length > 1 ? Math.floor((i * this.intervalMs) / nodes.length) : 0;
      this.nodes.set(node, {
        node,
        seq: 0,
        instanceId: randomUUID(),
        startedAt: now,
        nextAt: now + phase,
        beating: true,
        meta,
      });
    });
    this.tick();
  }

  /** Stops a node without a word, as a crash would. */
  stop(node: string): void {
    const n = this.nodes.get(node);
    if (n) n.beating = false;
  }

  /** Starts a stopped node again; `restart` gives it a new process instance. */
  resume(node: string, restart = false): void {
    const n = this.nodes.get(node);
    if (!n) return this.start([node]);
    if (restart) {
      n.instanceId = randomUUID();
      n.seq = 0;
      n.startedAt = Date.now();
    }
    n.beating = true;
    n.nextAt = Date.now();
    this.tick();
  }

  /** Sends the leaving heartbeat of a graceful shutdown (acknowledged by JetStream) and stops. */
  async leave(node: string): Promise<void> {
    const n = this.nodes.get(node);
    if (!n) throw new Error(`unknown simulated node ${node}`);
    n.beating = false;
    await jetstream(this.nc).publish(this.subject(node), this.encode(n, { leaving: true }));
  }

  /** Publishes one heartbeat of `node` now, with fields overridden (acknowledged). */
  async beatOnce(node: string, overrides: Partial<HeartbeatInit> = {}): Promise<number> {
    let n = this.nodes.get(node);
    if (!n) {
      n = {
        node,
        seq: 0,
        instanceId: randomUUID(),
        startedAt: Date.now(),
        nextAt: Infinity,
        beating: false,
        meta: {},
      };
      this.nodes.set(node, n);
    }
    const ack = await jetstream(this.nc).publish(this.subject(node), this.encode(n, overrides));
    return ack.seq;
  }

  /** Heartbeats sent so far by `node` (its current process). */
  sent(node: string): number {
    return this.nodes.get(node)?.seq ?? 0;
  }

  /** Stops every node and the timer. */
  close(): void {
    clearInterval(this.timer);
    for (const n of this.nodes.values()) n.beating = false;
  }

  private tick(): void {
    const now = Date.now();
    for (const n of this.nodes.values()) {
      if (!n.beating || n.nextAt > now) continue;
      this.nc.publish(this.subject(n.node), this.encode(n));
      n.nextAt += this.intervalMs;
      if (n.nextAt <= now) n.nextAt = now + this.intervalMs; // fell behind: no burst
    }
  }

  private subject(node: string): string {
    return this.names.heartbeatSubject(this.opts.group, node);
  }

  private encode(n: SimNode, overrides: Partial<HeartbeatInit> = {}): Uint8Array {
    n.seq += 1;
    const now = Date.now();
    return encodeMessage(Heartbeat, {
      group: this.opts.group,
      nodeId: n.node,
      seq: n.seq,
      sentAtMs: now,
      uptimeMs: now - n.startedAt,
      intervalMs: this.intervalMs,
      allowedMisses: this.misses,
      leaving: false,
      process: {
        pid: process.pid,
        hostname: "sim",
        sdkVersion: "sim",
        nodeVersion: process.version,
        serviceName: "sim",
        instanceId: n.instanceId,
      },
      config: { svc: { revision: 7, sha256: "a".repeat(64), appliedAtMs: now } },
      meta: n.meta,
      ...overrides,
    });
  }
}
