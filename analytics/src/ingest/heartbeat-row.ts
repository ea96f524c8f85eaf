import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import type { BinaryCopyBuffer } from "./binary-copy";
import type { StreamRecord } from "./stream-record";

/** One heartbeat as the ingest stores it. */
export interface HeartbeatRow {
  /** Stream timestamp (when the NATS server stored it): with streamSeq, the row's unique key. */
  timeMs: number;
  group: string;
  node: string;
  seq: number;
  sentMs: number;
  /** null when the sender did not say. */
  intervalMs: number | null;
  allowedMisses: number | null;
  uptimeMs: number;
  leaving: boolean;
  instanceId: string;
  hostname: string | null;
  serviceName: string | null;
  sdkVersion: string | null;
  /** `{"key": revision, …}`: the config column of `heartbeats`. */
  revisions: string;
  /** As decoded; turned into JSON only for the row that updates node_state. */
  config: NonNullable<Heartbeat["config"]>;
  streamSeq: number;
}

/** Columns of `heartbeats`, in the order {@link writeHeartbeatRow} writes them. */
export const HEARTBEAT_COLUMNS = [
  "time",
  "group_name",
  "node_id",
  "seq",
  "sent_at",
  "latency_ms",
  "late",
  "interval_ms",
  "uptime_ms",
  "leaving",
  "instance_id",
  "config",
  "stream_seq",
] as const;

/**
 * Decodes a stored heartbeat. Group and node come from the message, falling back to the subject
 * (`<prefix>.hb.<group>.<node>`). This runs once per heartbeat at up to 100,000 per second, so
 * the config column is built by hand and the full config JSON is left for {@link configJson}.
 */
export function heartbeatRow(rec: StreamRecord): HeartbeatRow {
  const hb = decodeMessage(Heartbeat, rec.data);
  let group = hb.group;
  let node = hb.nodeId;
  if (!group || !node) {
    const [, , subjGroup, subjNode] = rec.subject.split(".");
    group ||= subjGroup ?? "";
    node ||= subjNode ?? "";
  }
  if (!group || !node) throw new Error(`heartbeat without group or node id on ${rec.subject}`);
  const config = hb.config ?? {};
  let revisions = "";
  for (const key in config) {
    revisions += `${revisions ? "," : ""}${JSON.stringify(key)}:${Number(config[key]!.revision ?? 0)}`;
  }
  const p = hb.process;
  return {
    timeMs: rec.timeMs,
    group: noNul(group),
    node: noNul(node),
    seq: Number(hb.seq),
    sentMs: Number(hb.sentAtMs) || rec.timeMs,
    intervalMs: Number(hb.intervalMs) || null,
    allowedMisses: Number(hb.allowedMisses) || null,
    uptimeMs: Number(hb.uptimeMs),
    leaving: hb.leaving,
    instanceId: noNul(p?.instanceId ?? ""),
    hostname: p?.hostname ? noNul(p.hostname) : null,
    serviceName: p?.serviceName ? noNul(p.serviceName) : null,
    sdkVersion: p?.sdkVersion ? noNul(p.sdkVersion) : null,
    revisions: `{${revisions}}`,
    config,
    streamSeq: rec.streamSeq,
  };
}

/** PostgreSQL text cannot hold NUL: it becomes U+FFFD rather than failing the row. */
function noNul(s: string): string {
  return s.includes("\0") ? s.replace(/\0/g, "\uFFFD") : s;
}

/** The full config a node reports (node_state.config, the drift view's source), as JSON. */
export function configJson(row: HeartbeatRow): string {
  let full = "";
  for (const key in row.config) {
    const r = row.config[key]!;
    full +=
      `${full ? "," : ""}${JSON.stringify(key)}:{"revision":${Number(r.revision ?? 0)},` +
      `"sha256":${JSON.stringify(r.sha256 ?? "")},"appliedAtMs":${Number(r.appliedAtMs ?? 0)},` +
      `"rejectedRevision":${Number(r.rejectedRevision ?? 0)},` +
      `"pendingRevision":${Number(r.pendingRevision ?? 0)}}`;
  }
  return `{${full}}`;
}

/**
 * Writes one row of {@link HEARTBEAT_COLUMNS}. Latency is receive time (server clock) minus send
 * time (node clock); a beat is late when that exceeds interval × `lateFactor`.
 */
export function writeHeartbeatRow(
  out: BinaryCopyBuffer,
  r: HeartbeatRow,
  lateFactor: number,
): void {
  const latency = r.timeMs - r.sentMs;
  out
    .row(HEARTBEAT_COLUMNS.length)
    .timestamptz(r.timeMs)
    .text(r.group)
    .text(r.node)
    .int8(r.seq)
    .timestamptz(r.sentMs)
    .float4(latency)
    .bool(r.intervalMs !== null && latency > r.intervalMs * lateFactor)
    .int4(r.intervalMs ?? 0)
    .int8(r.uptimeMs)
    .bool(r.leaving)
    .text(r.instanceId)
    .jsonb(r.revisions)
    .int8(r.streamSeq);
}
