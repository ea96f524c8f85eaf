import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import { claimedTime } from "../../model/time-window";
import { pgText } from "../../pg/pg-text";
import type { HeartbeatTuple } from "./heartbeat-tuples";

/** A heartbeat fully decoded: what node_state keeps of a node (heartbeat-tuples.ts makes rows). */
export interface NodeStateRow {
  /** Stream timestamp (when the NATS server stored it): with streamSeq, the row's unique key. */
  timeMs: number;
  /** From the subject, as the tuple read it. */
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
 * Decodes a heartbeat in full (protobufjs): the one place besides the wire reader that reads a
 * Heartbeat, for the few beats that update node_state or bring a config set not stored yet.
 * Group and node are the tuple's, read from the subject.
 */
export function nodeStateRow(t: HeartbeatTuple): NodeStateRow {
  const hb = decodeMessage(Heartbeat, t.data);
  const p = hb.process;
  return {
    timeMs: t.timeMs,
    group: t.group,
    node: t.node,
    seq: Number(hb.seq),
    sentMs: claimedTime(Number(hb.sentAtMs), t.timeMs),
    intervalMs: Number(hb.intervalMs) || null,
    allowedMisses: Number(hb.allowedMisses) || null,
    uptimeMs: Number(hb.uptimeMs),
    leaving: hb.leaving,
    instanceId: pgText(p?.instanceId ?? ""),
    hostname: p?.hostname ? pgText(p.hostname) : null,
    serviceName: p?.serviceName ? pgText(p.serviceName) : null,
    sdkVersion: p?.sdkVersion ? pgText(p.sdkVersion) : null,
    config: hb.config ?? {},
    streamSeq: t.streamSeq,
  };
}

/** The full config a node reports (node_state.config, the drift view's source), as JSON. */
export function configJson(row: NodeStateRow): string {
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
export function revisionsJson(config: NodeStateRow["config"]): string {
  const keys = Object.keys(config).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${Number(config[k]!.revision ?? 0)}`).join(",")}}`;
}
