import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { headers } from "@nats-io/transport-node";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, decodeMessage, encodeMessage } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { MonitorMetrics } from "../metrics";
import type { NodeView, SeedRecord, TrackerEvent } from "../node-view";
import type { ExpiryHandler, LivenessBackend } from "./liveness-backend";
import { recordFields, seedFromFields } from "./node-record";
import type { NodeRecordFields } from "./node-record";

/** Settings of the NATS KV liveness store. */
export interface NatsBackendOptions {
  /** How long the server keeps an expiry marker; must exceed any monitor outage to replay. */
  markerTtlMs: number;
  /** How long down and left tombstones stay. */
  tombstoneTtlMs: number;
  replicas: number;
  monitorId: string;
}

const H = {
  status: "Kon-Status",
  seq: "Kon-Hb-Seq",
  at: "Kon-Hb-At",
  ttl: "Kon-Ttl-Ms",
  interval: "Kon-Interval-Ms",
  misses: "Kon-Misses",
  downs: "Kon-Down-Times",
  monitor: "Kon-Monitor",
} as const;

const seconds = (ms: number): string => `${Math.max(1, Math.ceil(ms / 1000))}s`;

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
  private readonly prefixLen: number;
  private seedLastSeq = 0;
  private markers: ConsumerMessages | undefined;

  constructor(
    private readonly nc: NatsConnection,
    names: WireNames,
    private readonly opts: NatsBackendOptions,
    private readonly metrics: MonitorMetrics,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
    this.bucket = names.nodesBucket;
    this.stream = `KV_${this.bucket}`;
    this.prefixLen = `$KV.${this.bucket}.`.length;
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
      filter_subjects: [`$KV.${this.bucket}.>`],
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

  refresh(node: NodeView, raw: Uint8Array): void {
    try {
      const h = this.headersOf(recordFields(node));
      h.set("Nats-TTL", seconds(node.ttlMs));
      this.nc.publish(`$KV.${this.bucket}.${node.key}`, raw, { headers: h });
    } catch (err) {
      this.metrics.storeErrors.inc({ op: "refresh" });
      this.logger.warn(`cannot refresh ${node.key} in ${this.bucket}: ${String(err)}`);
    }
  }

  async record(event: TrackerEvent, node: NodeView): Promise<void> {
    if (node.alive && event.kind !== "left") return; // the refresh that follows carries it
    const h = this.headersOf(recordFields(node));
    if (event.kind === "left") {
      h.set("KV-Operation", "DEL");
    } else {
      h.set("KV-Operation", "PURGE");
      h.set("Nats-Rollup", "sub");
    }
    h.set("Nats-TTL", seconds(this.opts.tombstoneTtlMs));
    const data = node.heartbeat ? encodeMessage(Heartbeat, node.heartbeat) : new Uint8Array();
    try {
      await this.js.publish(`$KV.${this.bucket}.${node.key}`, data, { headers: h });
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
      filter_subjects: [`$KV.${this.bucket}.>`],
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.seedLastSeq + 1,
      headers_only: true,
    });
    this.markers = await consumer.consume();
    void (async () => {
      for await (const m of this.markers!) {
        if (!m.headers?.get("Nats-Marker-Reason")) continue;
        const key = m.subject.slice(this.prefixLen);
        const { outcome } = await handler(key).catch((err: unknown) => {
          this.logger.warn(`expiry marker of ${key}: ${String(err)}`);
          return { outcome: "unknown" as const };
        });
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
    h.set(H.status, f.status);
    h.set(H.seq, String(f.lastSeq));
    h.set(H.at, String(f.lastAtMs));
    h.set(H.ttl, String(f.ttlMs));
    h.set(H.interval, String(f.intervalMs));
    h.set(H.misses, String(f.allowedMisses));
    if (f.downTimes.length > 0) h.set(H.downs, f.downTimes.join(","));
    h.set(H.monitor, this.opts.monitorId);
    return h;
  }

  private seedOf(m: JsMsg): SeedRecord | undefined {
    const key = m.subject.slice(this.prefixLen);
    const dot = key.indexOf(".");
    if (dot <= 0) return undefined;
    const group = key.slice(0, dot);
    const node = key.slice(dot + 1);
    const h = m.headers;
    if (h?.get("Nats-Marker-Reason")) return { group, node, status: "expired" };
    const op = h?.get("KV-Operation") ?? "";
    if ((op === "DEL" || op === "PURGE") && !h?.get(H.status)) return undefined; // not ours
    const seed = seedFromFields(
      group,
      node,
      {
        status: h?.get(H.status),
        lastSeq: h?.get(H.seq),
        lastAtMs: h?.get(H.at),
        ttlMs: h?.get(H.ttl),
        intervalMs: h?.get(H.interval),
        allowedMisses: h?.get(H.misses),
        downTimes: h?.get(H.downs),
      },
      op === "",
    );
    if (m.data.length > 0) {
      try {
        seed.heartbeat = decodeMessage(Heartbeat, m.data);
      } catch {
        // A damaged value costs the node's details, not its liveness.
      }
    }
    return seed;
  }
}
