import { Heartbeat, ProtoError, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { GROUP_NAME, assertNodeId } from "@konorkestra/sdk/internal";
import type { TrackedHeartbeat } from "./node-view";

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
  prefix: string;
  maxSkewMs: number;
  maxMetaBytes: number;
  defaultIntervalMs: number;
  defaultMisses: number;
  /** False for a group heartbeats may not come from. */
  isKnownGroup: (group: string) => boolean;
}

const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_MISSES = 100;

/**
 * Liveness TTL: interval × misses rounded up to whole seconds, at least 1 s — what the NATS KV
 * per-key TTL can express, so the in-memory deadline and the server's marker agree.
 */
export function livenessTtlMs(intervalMs: number, misses: number): number {
  return Math.max(1000, Math.ceil((intervalMs * misses) / 1000) * 1000);
}

function metaBytes(meta: Record<string, string>): number {
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
    const tokens = msg.subject.split(".");
    if (tokens.length !== 4 || tokens[0] !== this.opts.prefix || tokens[1] !== "hb") {
      return {
        ok: false,
        reason: "bad_subject",
        detail: `subject ${msg.subject} is not ${this.opts.prefix}.hb.<group>.<node>`,
      };
    }
    const group = tokens[2]!;
    const node = tokens[3]!;
    if (!GROUP_NAME.test(group)) {
      return { ok: false, reason: "bad_subject", detail: `invalid group ${JSON.stringify(group)}` };
    }
    try {
      assertNodeId(node);
    } catch (err) {
      return { ok: false, reason: "bad_node", detail: (err as Error).message };
    }
    const key = `${group}.${node}`;
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
