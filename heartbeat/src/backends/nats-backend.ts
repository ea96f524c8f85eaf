import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { headers } from "@nats-io/transport-node";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import {
  KonHeader,
  NatsHeader,
  natsTtl,
  nodeKey,
  nodeRecordFilter,
  nodeRecordSubject,
  parseNodeRecordSubject,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { HeartbeatBody } from "../heartbeat-wire";
import type { MonitorMetrics } from "../metrics";
import type { NodeLiveness, SeedRecord, TrackerEvent } from "../node-liveness";
import type { ExpiryHandler, LivenessBackend } from "./liveness-backend";
import { recordFields, seedFromFields } from "./node-record";
import type { NodeRecordFields } from "./node-record";

/**
 * `Nats-TTL` of a live record of a node with TTL `ttlMs`, written once per TTL: long enough that
 * the record outlives the gap between two writes (under TTL + one interval ≤ 2 × TTL) plus a
 * second of delivery, so it never expires while the node beats.
 */
export function recordTtlMs(ttlMs: number): number {
  return 2 * ttlMs + 1000;
}

/** Settings of the NATS KV liveness store. */
export interface NatsBackendOptions {
  /** How long the server keeps an expiry marker; must exceed any monitor outage to replay. */
  markerTtlMs: number;
  /** How long down and left tombstones stay. */
  tombstoneTtlMs: number;
  replicas: number;
  monitorId: string;
}

/**
 * Liveness in KV bucket `kon_nodes`: key `<group>.<node>` holds the node's last heartbeat with a
 * per-key TTL (interval × misses), written as a plain publish to `$KV.kon_nodes.<key>` with
 * `Nats-TTL`. When heartbeats stop the server expires the key and writes a marker
 * (`Nats-Marker-Reason: MaxAge`), kept `markerTtlMs`; markers found at start seed the replay,
 * markers seen later reach the expiry handler. A down or left node gets a tombstone (PURGE or
 * DEL carrying the last heartbeat and `Kon-*` headers) so its state survives monitor restarts.
 */
export class NatsBackend implements LivenessBackend {
  readonly kind = "nats" as const;
  readonly claimsDowns = false;
  private readonly js: JetStreamClient;
  private readonly bucket: string;
  private readonly stream: string;
  private seedLastSeq = 0;
  private markers: ConsumerMessages | undefined;
  /** Per node: the beat time and status of the live record last written. */
  private readonly written = new Map<string, { atMs: number; status: string }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly opts: NatsBackendOptions,
    private readonly metrics: MonitorMetrics,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
    this.bucket = names.nodesBucket;
    this.stream = `KV_${this.bucket}`;
  }

  async init(): Promise<void> {
    await new Kvm(this.nc).create(this.bucket, {
      history: 1,
      markerTTL: this.opts.markerTtlMs,
      replicas: this.opts.replicas,
    });
    // kvm.create leaves an existing bucket alone; without markers expiry would be silent.
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(this.stream);
    if (!info.config.allow_msg_ttl || !info.config.subject_delete_marker_ttl) {
      await jsm.streams.update(this.stream, {
        ...info.config,
        allow_msg_ttl: true,
        subject_delete_marker_ttl: this.opts.markerTtlMs * 1_000_000,
      });
    }
  }

  async loadSeeds(): Promise<SeedRecord[]> {
    const jsm = await jetstreamManager(this.nc);
    const state = (await jsm.streams.info(this.stream)).state;
    this.seedLastSeq = state.last_seq;
    if (state.messages === 0) return [];
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: [nodeRecordFilter(this.names)],
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const seeds: SeedRecord[] = [];
    const messages = await consumer.consume();
    // Keys can expire between the stream info and the read: stop when nothing more comes.
    let idle = setTimeout(() => messages.stop(), 2000);
    for await (const m of messages) {
      clearTimeout(idle);
      const seed = this.seedOf(m);
      if (seed) seeds.push(seed);
      this.seedLastSeq = Math.max(this.seedLastSeq, m.seq);
      if (m.info.pending === 0) break;
      idle = setTimeout(() => messages.stop(), 2000);
    }
    clearTimeout(idle);
    messages.stop();
    return seeds;
  }

  /**
   * Writes a live record at most once per TTL per node (and at once on a change of status), with
   * `Nats-TTL` = {@link recordTtlMs}: the key never expires while the node beats, and expires
   * 1 s to TTL + 1 s after the node's deadline. The expiry marker is a backstop (the monitor's own
   * deadline decides), so this trades its promptness for a third of the writes at 1 s × 3.
   */
  /** False while the node's record is fresh enough (checked before ownership, per beat). */
  wantsRefresh(node: NodeLiveness): boolean {
    const written = this.written.get(node.key);
    return (
      written === undefined ||
      written.status !== node.status ||
      node.lastAtMs - written.atMs >= node.ttlMs ||
      node.lastAtMs < written.atMs
    );
  }

  refresh(node: NodeLiveness, raw: Uint8Array): void {
    if (!this.wantsRefresh(node)) return;
    try {
      const h = this.headersOf(recordFields(node));
      h.set(NatsHeader.Ttl, natsTtl(recordTtlMs(node.ttlMs)));
      this.nc.publish(nodeRecordSubject(this.names, node.group, node.node), raw, { headers: h });
      this.written.set(node.key, { atMs: node.lastAtMs, status: node.status });
    } catch (err) {
      this.metrics.storeErrors.inc({ op: "refresh" });
      this.logger.warn(`cannot refresh ${node.key} in ${this.bucket}: ${String(err)}`);
    }
  }

  /** Forgets what was written for a node the monitor no longer tracks. */
  forget(key: string): void {
    this.written.delete(key);
  }

  async record(event: TrackerEvent, node: NodeLiveness): Promise<void> {
    if (node.alive && event.kind !== "left") return; // the refresh that follows carries it
    const h = this.headersOf(recordFields(node));
    if (event.kind === "left") {
      h.set(NatsHeader.KvOperation, "DEL");
    } else {
      h.set(NatsHeader.KvOperation, "PURGE");
      h.set(NatsHeader.Rollup, "sub");
    }
    h.set(NatsHeader.Ttl, natsTtl(this.opts.tombstoneTtlMs));
    const data = node.body?.bytes ?? new Uint8Array();
    this.written.delete(node.key);
    try {
      await this.js.publish(nodeRecordSubject(this.names, node.group, node.node), data, {
        headers: h,
      });
    } catch (err) {
      this.metrics.storeErrors.inc({ op: "tombstone" });
      this.logger.warn(`cannot record ${event.kind} of ${node.key}: ${String(err)}`);
    }
  }

  hasRecorded(): Promise<boolean> {
    return Promise.resolve(false); // downs are reported by owners, not by claims
  }

  async startExpirySignals(handler: ExpiryHandler): Promise<void> {
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: [nodeRecordFilter(this.names)],
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.seedLastSeq + 1,
      headers_only: true,
    });
    this.markers = await consumer.consume();
    void (async () => {
      for await (const m of this.markers!) {
        if (!m.headers?.get(NatsHeader.MarkerReason)) continue;
        const address = parseNodeRecordSubject(this.names, m.subject);
        const key = address && nodeKey(address.group, address.node);
        // A key with invalid names is none the monitor wrote: nothing to judge.
        const { outcome } = key
          ? await handler(key).catch((err: unknown) => {
              this.logger.warn(`expiry marker of ${key}: ${String(err)}`);
              return { outcome: "unknown" as const };
            })
          : { outcome: "unknown" as const };
        this.metrics.expirySignals.inc({ source: "marker", outcome });
      }
    })().catch((err: unknown) => this.logger.warn(`marker watch ended: ${String(err)}`));
  }

  async close(): Promise<void> {
    this.markers?.stop();
    return Promise.resolve();
  }

  private headersOf(f: NodeRecordFields): MsgHdrs {
    const h = headers();
    h.set(KonHeader.Status, f.status);
    h.set(KonHeader.HeartbeatSeq, String(f.lastSeq));
    h.set(KonHeader.HeartbeatAt, String(f.lastAtMs));
    h.set(KonHeader.TtlMs, String(f.ttlMs));
    h.set(KonHeader.IntervalMs, String(f.intervalMs));
    h.set(KonHeader.Misses, String(f.allowedMisses));
    if (f.downTimes.length > 0) h.set(KonHeader.DownTimes, f.downTimes.join(","));
    h.set(KonHeader.Monitor, this.opts.monitorId);
    return h;
  }

  private seedOf(m: JsMsg): SeedRecord | undefined {
    const address = parseNodeRecordSubject(this.names, m.subject);
    if (!address) return undefined;
    const { group, node } = address;
    const h = m.headers;
    if (h?.get(NatsHeader.MarkerReason)) return { group, node, status: "expired" };
    const op = h?.get(NatsHeader.KvOperation) ?? "";
    if ((op === "DEL" || op === "PURGE") && !h?.get(KonHeader.Status)) return undefined; // not ours
    const seed = seedFromFields(
      group,
      node,
      {
        status: h?.get(KonHeader.Status),
        lastSeq: h?.get(KonHeader.HeartbeatSeq),
        lastAtMs: h?.get(KonHeader.HeartbeatAt),
        ttlMs: h?.get(KonHeader.TtlMs),
        intervalMs: h?.get(KonHeader.IntervalMs),
        allowedMisses: h?.get(KonHeader.Misses),
        downTimes: h?.get(KonHeader.DownTimes),
      },
      op === "",
    );
    // Decoded when needed; a damaged value costs the node's details, not its liveness.
    if (m.data.length > 0) seed.body = new HeartbeatBody(m.data);
    return seed;
  }
}
