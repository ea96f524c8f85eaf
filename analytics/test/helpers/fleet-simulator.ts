import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamClient } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { ConfigEvent, Heartbeat, NodeEvent, encodeMessage } from "@konorkestra/proto";
import type { ConfigEventInit, HeartbeatInit } from "@konorkestra/proto";
import {
  configEventKind,
  ensureStreams,
  nodeEventKind,
  wireNames,
} from "@konorkestra/sdk/internal";
import type { ConfigEventWord, NodeEventWord, WireNames } from "@konorkestra/sdk/internal";

/** Options of one simulated heartbeat. */
export interface BeatOptions {
  seq: number;
  sentAtMs?: number;
  intervalMs?: number;
  allowedMisses?: number;
  leaving?: boolean;
  instanceId?: string;
  config?: Record<string, { revision: number; sha256?: string; rejectedRevision?: number }>;
}

/**
 * Publishes what the SDK heartbeat client and the liveness monitor would, straight to JetStream:
 * protobuf Heartbeats on `kon.hb.<group>.<node>` and NodeEvents on `kon.evt.<group>.node.<kind>`
 * (with Nats-Msg-Id = event id), and ConfigEvents on `kon.evt.<group>.config.<kind>` as the
 * config-loader and the SDK send them. Analytics tests use it instead of those components.
 */
export class FleetSimulator {
  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly names: WireNames,
  ) {}

  /** `options`: a testkit server's `clientOptions()`. */
  static async connect(options: ConnectionOptions, prefix = "kon"): Promise<FleetSimulator> {
    const nc = await connect({ ...options, name: "fleet-simulator" });
    const names = wireNames(prefix);
    await ensureStreams(await jetstreamManager(nc), names);
    return new FleetSimulator(nc, jetstream(nc), names);
  }

  async heartbeat(group: string, node: string, o: BeatOptions): Promise<number> {
    const hb: HeartbeatInit = {
      group,
      nodeId: node,
      seq: o.seq,
      sentAtMs: o.sentAtMs ?? Date.now(),
      uptimeMs: o.seq * (o.intervalMs ?? 1000),
      intervalMs: o.intervalMs ?? 1000,
      allowedMisses: o.allowedMisses ?? 3,
      leaving: o.leaving ?? false,
      process: {
        pid: 4242,
        hostname: `host-${node}`,
        sdkVersion: "0.1.0",
        nodeVersion: process.version,
        serviceName: "sim",
        instanceId: o.instanceId ?? `inst-${node}`,
      },
      config: Object.fromEntries(
        Object.entries(o.config ?? {}).map(([k, r]) => [
          k,
          {
            revision: r.revision,
            sha256: r.sha256 ?? "",
            appliedAtMs: 1,
            rejectedRevision: r.rejectedRevision ?? 0,
          },
        ]),
      ),
    };
    const ack = await this.js.publish(
      this.names.heartbeatSubject(group, node),
      encodeMessage(Heartbeat, hb),
    );
    return ack.seq;
  }

  async event(
    group: string,
    node: string,
    kind: NodeEventWord,
    o: { atMs: number; suspect?: boolean; eventId?: string; lastSeq?: number },
  ): Promise<string> {
    const eventId = o.eventId ?? `${group}.${node}.${kind}.${o.atMs}`;
    await this.js.publish(
      this.names.eventSubject(group, `node.${kind}`),
      encodeMessage(NodeEvent, {
        eventId,
        group,
        nodeId: node,
        kind: nodeEventKind(kind),
        // `atMs` is when the state began. A DOWN began at the node's last heartbeat and is detected
        // one TTL (3 s) later, as the monitor reports it; other kinds are reported as they happen.
        detectedAtMs: kind === "down" ? o.atMs + 3000 : o.atMs,
        lastSeenMs: kind === "down" ? o.atMs : o.atMs - 1000,
        lastHeartbeat: { group, nodeId: node, seq: o.lastSeq ?? 1 },
        reason: kind === "down" ? "ttl expired (MaxAge)" : kind,
        suspect: o.suspect ?? false,
        monitorId: "sim-monitor",
      }),
      { msgID: eventId },
    );
    return eventId;
  }

  /** A ConfigEvent as the loader or a node sends it; the id defaults to one derived from it. */
  async configEvent(
    group: string,
    kind: ConfigEventWord,
    e: Omit<ConfigEventInit, "group" | "kind"> & { key: string; atMs: number },
  ): Promise<string> {
    const eventId =
      e.eventId ?? `cfg-${kind}-${group}-${e.key}-${e.revision ?? 0}-${e.nodeId ?? ""}-${e.atMs}`;
    await this.js.publish(
      this.names.eventSubject(group, `config.${kind}`),
      encodeMessage(ConfigEvent, { ...e, eventId, group, kind: configEventKind(kind) }),
      { msgID: eventId },
    );
    return eventId;
  }

  /** Publishes raw bytes (e.g. a message that is not protobuf) on a subject. */
  async raw(subject: string, data: Uint8Array): Promise<number> {
    return (await this.js.publish(subject, data)).seq;
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}
