import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import type { StreamRecord } from "./stream-record";

/** A heartbeat fully decoded: what node_state keeps of a node (see heartbeat-tuples for rows). */
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
  /** As decoded; turned into JSON only for the row that updates node_state. */
  config: NonNullable<Heartbeat["config"]>;
  streamSeq: number;
}

/**
 * Decodes a stored heartbeat. Group and node come from the message, falling back to the subject
 * (`<prefix>.hb.<group>.<node>`). The ingest decodes only the beats that update node_state
 * this way; the rows of `heartbeats` are read straight off the wire (heartbeat-wire.ts).
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
 * The `config_sets.revisions` of a config report: `{"key": revision, …}`, keys sorted, so that
 * the same set reads the same whatever order a node sent it in.
 */
export function revisionsJson(config: HeartbeatRow["config"]): string {
  const keys = Object.keys(config).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${Number(config[k]!.revision ?? 0)}`).join(",")}}`;
}
