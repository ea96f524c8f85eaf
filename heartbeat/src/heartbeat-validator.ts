import { Heartbeat, ProtoError, decodeMessage, encodeMessage } from "@konorkestra/proto";
import {
  MAX_INTERVAL_MS,
  MAX_MISSES,
  MIN_INTERVAL_MS,
  livenessTtlMs,
  nodeKey,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { TrackedHeartbeat } from "./node-liveness";

/** Why a heartbeat was dropped. Each is a label of `kon_monitor_heartbeats_rejected_total`. */
export type RejectReason = "malformed" | "bad_subject" | "bad_node" | "unknown_group";
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
  | { ok: true; hb: TrackedHeartbeat; flags: HeartbeatFlag[]; raw: Uint8Array }
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
}

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
  constructor(private readonly opts: ValidatorOptions) {}

  validate(msg: RawHeartbeat): ValidationResult {
    const address = this.opts.names.checkHeartbeatSubject(msg.subject);
    if (!address.ok) {
      // An invalid node id is counted apart (a node to fix); any other wrong part is a bad subject.
      const reason = address.part === "node" ? "bad_node" : "bad_subject";
      return { ok: false, reason, detail: address.detail };
    }
    const { group, node } = address;
    const key = nodeKey(group, node);
    if (!this.opts.isKnownGroup(group)) {
      return { ok: false, reason: "unknown_group", detail: `group ${group} is not known`, key };
    }
    let hb: Heartbeat;
    try {
      hb = decodeMessage(Heartbeat, msg.data);
    } catch (err) {
      const why = err instanceof ProtoError ? err.message : String(err);
      return { ok: false, reason: "malformed", detail: why, key };
    }
    if ((hb.group && hb.group !== group) || (hb.nodeId && hb.nodeId !== node)) {
      const detail = `payload names ${hb.group}.${hb.nodeId}, subject names ${key}`;
      return { ok: false, reason: "bad_node", detail, key };
    }
    return this.accept(msg, hb, group, node);
  }

  private accept(msg: RawHeartbeat, hb: Heartbeat, group: string, node: string): ValidationResult {
    const flags: HeartbeatFlag[] = [];
    let raw = msg.data;
    if (metaBytes(hb.meta) > this.opts.maxMetaBytes) {
      // Keep the beat (the node is alive), lose the labels: dropping it would fake a down.
      hb.meta = {};
      raw = encodeMessage(Heartbeat, hb);
      flags.push("oversized_meta");
    }
    let intervalMs = hb.intervalMs || this.opts.defaultIntervalMs;
    let misses = hb.allowedMisses || this.opts.defaultMisses;
    if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS || misses > MAX_MISSES) {
      intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, intervalMs));
      misses = Math.min(MAX_MISSES, misses);
      flags.push("timing_clamped");
    }
    const sentAtMs = Number(hb.sentAtMs) || 0;
    const skewMs = sentAtMs > 0 ? sentAtMs - msg.atMs : 0;
    if (Math.abs(skewMs) > this.opts.maxSkewMs) flags.push("clock_skew");
    return {
      ok: true,
      flags,
      raw,
      hb: {
        group,
        node,
        seq: msg.seq,
        atMs: msg.atMs,
        ttlMs: livenessTtlMs(intervalMs, misses),
        intervalMs,
        allowedMisses: misses,
        leaving: hb.leaving,
        instanceId: hb.process?.instanceId ?? "",
        skewMs,
        heartbeat: hb,
      },
    };
  }
}
