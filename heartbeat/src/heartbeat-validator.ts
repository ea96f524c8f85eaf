import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import {
  MAX_INTERVAL_MS,
  MAX_MISSES,
  MIN_INTERVAL_MS,
  livenessTtlMs,
  nodeKey,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { HeartbeatBody, WireError, emptyWireHeartbeat, readWireHeartbeat } from "./heartbeat-wire";
import type { WireHeartbeat, WireString } from "./heartbeat-wire";
import type { TrackedHeartbeat } from "./node-liveness";
import type { NodeSlot } from "./node-slot";

/** Why a heartbeat was dropped. Each is a label of `kon_monitor_heartbeats_rejected_total`. */
export type RejectReason = "empty" | "malformed" | "bad_subject" | "bad_node" | "unknown_group";
/** Kept, but worth counting and logging. */
export type HeartbeatFlag = "clock_skew" | "oversized_meta" | "timing_clamped";

/** A message of KON_HB as delivered. */
export interface RawHeartbeat {
  subject: string;
  data: Uint8Array;
  /** Stream sequence. */
  seq: number;
  /** Server timestamp (ms). */
  atMs: number;
}

export type ValidationResult =
  | { ok: true; hb: TrackedHeartbeat; flags: readonly HeartbeatFlag[] }
  | { ok: false; reason: RejectReason; detail: string; key?: string };

/** Rules a heartbeat is held to. */
export interface ValidatorOptions {
  names: WireNames;
  maxSkewMs: number;
  maxMetaBytes: number;
  defaultIntervalMs: number;
  defaultMisses: number;
  /** False for a group heartbeats may not come from. */
  isKnownGroup: (group: string) => boolean;
  /**
   * Most subjects whose names are remembered as checked (the tracker's node cap): beyond it the
   * one remembered longest goes. @default 1000000
   */
  maxNodes?: number;
}

/**
 * A subject whose names passed the checks, with the strings a beat on it is tracked by: the
 * same `key` string every beat (its hash computed once, for every per-node table's look-up).
 */
interface KnownSubject extends NodeSlot {
  readonly group: string;
  readonly node: string;
  readonly key: string;
  /** The instance id its last beat carried: equal bytes reuse the string. */
  instanceId: string;
}

/** An absent name in the payload agrees with the subject; a present one must equal it. */
function sameName(field: WireString, expected: string): boolean {
  return field.length === 0 || field.equals(expected);
}

/** Shared by every beat without a flag (most): no array per beat. */
const NO_FLAGS: readonly HeartbeatFlag[] = [];

/** Size of a heartbeat's `meta` as its limit counts it: UTF-8 bytes of keys plus values. */
export function metaBytes(meta: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(meta)) {
    n += Buffer.byteLength(k, "utf8") + Buffer.byteLength(String(v), "utf8");
  }
  return n;
}

/**
 * Turns a KON_HB message into a {@link TrackedHeartbeat}, or says why not. Never throws: bad input
 * is a result, not an exception.
 */
export class HeartbeatValidator {
  /** Subjects (nodes) seen with valid names, in a known group, oldest first (see KnownSubject). */
  private readonly known = new Map<string, KnownSubject>();
  private readonly maxKnown: number;
  /** Filled by each read: validate is synchronous and the read does not outlive it. */
  private readonly wire = emptyWireHeartbeat();

  constructor(private readonly opts: ValidatorOptions) {
    this.maxKnown = Math.max(1, opts.maxNodes ?? 1_000_000);
  }

  validate(msg: RawHeartbeat): ValidationResult {
    let subject = this.known.get(msg.subject);
    const seen = subject !== undefined;
    if (subject === undefined) {
      const address = this.opts.names.checkHeartbeatSubject(msg.subject);
      if (!address.ok) {
        // An invalid node id is counted apart (a node to fix); any other wrong part is a bad subject.
        const reason = address.part === "node" ? "bad_node" : "bad_subject";
        return { ok: false, reason, detail: address.detail };
      }
      subject = {
        group: address.group,
        node: address.node,
        key: nodeKey(address.group, address.node),
        instanceId: "",
      };
    }
    const { group, node, key } = subject;
    // Asked every beat: a group may leave the registry.
    if (!this.opts.isKnownGroup(group)) {
      return { ok: false, reason: "unknown_group", detail: `group ${group} is not known`, key };
    }
    if (msg.data.length === 0) {
      // An empty body says nothing a node would say (not even its name): a broken sender or a
      // probe, not proof of life.
      return { ok: false, reason: "empty", detail: "empty heartbeat (0 bytes)", key };
    }
    if (!seen) this.remember(msg.subject, subject);
    let hb: WireHeartbeat;
    try {
      hb = readWireHeartbeat(msg.data, this.wire, subject.instanceId);
    } catch (err) {
      const why = err instanceof WireError ? err.message : String(err);
      return {
        ok: false,
        reason: "malformed",
        detail: `cannot decode konorkestra.v1.Heartbeat: ${why}`,
        key,
      };
    }
    if (!sameName(hb.group, group) || !sameName(hb.nodeId, node)) {
      const detail = `payload names ${hb.group.text()}.${hb.nodeId.text()}, subject names ${key}`;
      return { ok: false, reason: "bad_node", detail, key };
    }
    subject.instanceId = hb.instanceId;
    return this.accept(msg, hb, subject);
  }

  /** Keeps a checked subject, up to `maxNodes` of them (the oldest goes first). */
  private remember(name: string, subject: KnownSubject): void {
    if (this.known.size >= this.maxKnown) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
    this.known.set(name, subject);
  }

  private accept(msg: RawHeartbeat, hb: WireHeartbeat, subject: KnownSubject): ValidationResult {
    let flags: readonly HeartbeatFlag[] = NO_FLAGS;
    let body = new HeartbeatBody(msg.data);
    if (hb.metaBytes > this.opts.maxMetaBytes) {
      // Keep the beat (the node is alive), lose the labels: dropping it would fake a down.
      const full = body.message;
      full.meta = {};
      body = HeartbeatBody.of(full, encodeMessage(Heartbeat, full));
      flags = [...flags, "oversized_meta"];
    }
    let intervalMs = hb.intervalMs || this.opts.defaultIntervalMs;
    let misses = hb.allowedMisses || this.opts.defaultMisses;
    if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS || misses > MAX_MISSES) {
      intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, intervalMs));
      misses = Math.min(MAX_MISSES, misses);
      flags = [...flags, "timing_clamped"];
    }
    const sentAtMs = Number(hb.sentAtMs) || 0;
    const skewMs = sentAtMs > 0 ? sentAtMs - msg.atMs : 0;
    if (Math.abs(skewMs) > this.opts.maxSkewMs) flags = [...flags, "clock_skew"];
    return {
      ok: true,
      flags,
      hb: {
        group: subject.group,
        node: subject.node,
        key: subject.key,
        slot: subject,
        seq: msg.seq,
        atMs: msg.atMs,
        ttlMs: livenessTtlMs(intervalMs, misses),
        intervalMs,
        allowedMisses: misses,
        leaving: hb.leaving,
        instanceId: hb.instanceId,
        skewMs,
        body,
      },
    };
  }
}
