import { NODE_STATUSES } from "../node-liveness";
import type { NodeLiveness, NodeStatus, SeedRecord } from "../node-liveness";

/** The fields of a node both stores keep, as strings (NATS headers) or JSON (Redis). */
export interface NodeRecordFields {
  status: NodeStatus;
  lastSeq: number;
  lastAtMs: number;
  ttlMs: number;
  intervalMs: number;
  allowedMisses: number;
  downTimes: number[];
}

export function recordFields(
  node: NodeLiveness,
  status: NodeStatus = node.status,
): NodeRecordFields {
  return {
    status,
    lastSeq: node.lastSeq,
    lastAtMs: node.lastAtMs,
    ttlMs: node.ttlMs,
    intervalMs: node.intervalMs,
    allowedMisses: node.allowedMisses,
    downTimes: [...node.downTimes],
  };
}

const STATUSES: readonly string[] = NODE_STATUSES;
const int = (v: unknown): number | undefined => {
  const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

/**
 * A seed from stored fields; a record that is not ours or is damaged becomes `expired` (the
 * monitor then looks its last heartbeat up in KON_HB) rather than a guess.
 */
export function seedFromFields(
  group: string,
  node: string,
  f: Partial<Record<keyof NodeRecordFields, unknown>>,
  alive: boolean,
): SeedRecord {
  const status = typeof f.status === "string" && STATUSES.includes(f.status) ? f.status : undefined;
  const lastSeq = int(f.lastSeq);
  const lastAtMs = int(f.lastAtMs);
  if (status === undefined || lastSeq === undefined || lastAtMs === undefined) {
    return { group, node, status: "expired" };
  }
  const downTimes = Array.isArray(f.downTimes)
    ? f.downTimes.map(int).filter((n): n is number => n !== undefined)
    : typeof f.downTimes === "string" && f.downTimes !== ""
      ? f.downTimes
          .split(",")
          .map(int)
          .filter((n): n is number => n !== undefined)
      : [];
  return {
    group,
    node,
    status: status as NodeStatus,
    lastSeq,
    lastAtMs,
    ttlMs: int(f.ttlMs),
    intervalMs: int(f.intervalMs),
    allowedMisses: int(f.allowedMisses),
    downTimes,
    // A flapping node is stored as a heartbeat (beating) or a tombstone (not).
    alive,
  };
}
