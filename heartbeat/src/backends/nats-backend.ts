import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
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
import { configKeysFingerprint } from "./config-keys";
import type { ExpiryHandler, LivenessBackend } from "./liveness-backend";
import { recordFields, seedFromFields } from "./node-record";
import { EncodedHeaders, msgHdrsOf, recordHeaderPairs } from "./record-headers";

/**
 * How often the live record of a node with TTL `ttlMs` is rewritten while it beats: every
 * `refreshMs` (KON_RECORD_REFRESH_MS), but never more often than once per TTL.
 */
export function recordRefreshPeriodMs(ttlMs: number, refreshMs: number): number {
  return Math.max(ttlMs, refreshMs);
}

/**
 * `Nats-TTL` of a live record: the refresh period + the node's TTL + 1 s. The record must outlive
 * the gap between two writes (the first beat at least one period after a write comes less than
 * one TTL after the period) plus a second of delivery, so it never expires while the node beats;
 * it expires 1 s to period + 1 s after the node's deadline (before rounding up to whole seconds).
 */
export function recordTtlMs(ttlMs: number, refreshMs: number): number {
  return recordRefreshPeriodMs(ttlMs, refreshMs) + ttlMs + 1000;
}

/** Settings of the NATS KV liveness store. */
export interface NatsBackendOptions {
  /** How long the server keeps an expiry marker; must exceed any monitor outage to replay. */
  markerTtlMs: number;
  /** How long down and left tombstones stay. */
  tombstoneTtlMs: number;
  replicas: number;
  monitorId: string;
  /**
   * Live records are rewritten this often while their node beats (at least once per TTL apart);
   * a change of status or of the node's config keys is written at once. 0: once per TTL.
   */
  recordRefreshMs: number;
}

/** What this monitor last wrote as a node's live record. */
interface Written {
  atMs: number;
  status: string;
  transitionAtMs: number;
  /** The node's TTL then: a longer one lengthens the period, so it needs a longer `Nats-TTL`. */
  ttlMs: number;
  /** {@link configKeysFingerprint} of the beat written (undefined: not readable). */
  configKeys: number | undefined;
}

/**
 * Liveness in KV bucket `kon_nodes`: key `<group>.<node>` holds the node's last heartbeat written
 * by its owner, as a plain publish to `$KV.kon_nodes.<key>` with `Nats-TTL` (see
 * {@link recordTtlMs}), rewritten once per refresh period while it beats. When heartbeats stop
 * the server expires the key and writes a marker (`Nats-Marker-Reason: MaxAge`), kept
 * `markerTtlMs`; markers found at start seed the replay, markers seen later reach the expiry
 * handler. A down or left node gets a tombstone (PURGE or DEL carrying the last heartbeat and
 * `Kon-*` headers) at once, so its state survives monitor restarts.
 */
export class NatsBackend implements LivenessBackend {
  readonly kind = "nats" as const;
  readonly claimsDowns = false;
  private readonly js: JetStreamClient;
  private readonly bucket: string;
  private readonly stream: string;
  private seedLastSeq = 0;
  private markers: ConsumerMessages | undefined;
  /** Expiry markers are judged one after the other, in stream order. */
  private judging: Promise<void> = Promise.resolve();
  /** Per node: what the live record last written by this monitor says. */
  private readonly written = new Map<string, Written>();

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
   * False while the node's record is fresh enough (checked before ownership, per beat): written
   * by this monitor less than a refresh period ago (event time), with the same status and TTL, no
   * transition since (one it saw while another monitor owned the node included), and the same
   * config keys (what STRONG writes choose their voters by).
   */
  wantsRefresh(node: NodeLiveness): boolean {
    const written = this.written.get(node.key);
    if (
      written === undefined ||
      written.status !== node.status ||
      written.transitionAtMs !== node.lastTransitionAtMs ||
      written.ttlMs !== node.ttlMs ||
      node.lastAtMs < written.atMs ||
      node.lastAtMs - written.atMs >= recordRefreshPeriodMs(node.ttlMs, this.opts.recordRefreshMs)
    ) {
      return true;
    }
    const keys = node.body && configKeysFingerprint(node.body.bytes);
    return keys !== undefined && keys !== written.configKeys;
  }

  /**
   * Writes the node's live record (a core publish, not awaited: the next refresh or the
   * monitor's own deadline covers a lost one) with `Nats-TTL` = {@link recordTtlMs}. The
   * expiry marker is a backstop (the monitor's own deadline decides), so a longer period trades
   * its promptness, and how far `Kon-Hb-*` may lag the node's last beat, for fewer writes.
   */
  refresh(node: NodeLiveness, raw: Uint8Array): void {
    if (!this.wantsRefresh(node)) return;
    try {
      const h = new EncodedHeaders(
        recordHeaderPairs(recordFields(node), this.opts.monitorId, [
          [NatsHeader.Ttl, natsTtl(recordTtlMs(node.ttlMs, this.opts.recordRefreshMs))],
        ]),
      );
      this.nc.publish(nodeRecordSubject(this.names, node.group, node.node), raw, { headers: h });
      this.written.set(node.key, {
        atMs: node.lastAtMs,
        status: node.status,
        transitionAtMs: node.lastTransitionAtMs,
        ttlMs: node.ttlMs,
        configKeys: configKeysFingerprint(raw),
      });
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
    const op: [string, string][] =
      event.kind === "left"
        ? [[NatsHeader.KvOperation, "DEL"]]
        : [
            [NatsHeader.KvOperation, "PURGE"],
            [NatsHeader.Rollup, "sub"],
          ];
    const h = msgHdrsOf(
      recordHeaderPairs(recordFields(node), this.opts.monitorId, [
        ...op,
        [NatsHeader.Ttl, natsTtl(this.opts.tombstoneTtlMs)],
      ]),
    );
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

  /**
   * Follows every write to the bucket from where the seeds ended, for the server's expiry
   * markers. Nearly all writes are live records, which carry the beat's bytes; a marker has an
   * empty body. So bodies are delivered (not `headers_only`) and a delivery with a body is
   * dropped on its length alone, without decoding its headers: only the empty ones (markers,
   * and tombstones of nodes without a stored beat) have theirs read.
   */
  async startExpirySignals(handler: ExpiryHandler): Promise<void> {
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: [nodeRecordFilter(this.names)],
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.seedLastSeq + 1,
    });
    this.markers = await consumer.consume({
      callback: (m) => {
        if (m.data.length > 0 || !m.headers?.get(NatsHeader.MarkerReason)) return;
        const subject = m.subject;
        this.judging = this.judging.then(() => this.judgeMarker(subject, handler));
      },
    });
    void this.markers.closed().then((err) => {
      if (err) this.logger.warn(`marker watch ended: ${String(err)}`);
    });
  }

  private async judgeMarker(subject: string, handler: ExpiryHandler): Promise<void> {
    const address = parseNodeRecordSubject(this.names, subject);
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

  async close(): Promise<void> {
    this.markers?.stop();
    return Promise.resolve();
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
