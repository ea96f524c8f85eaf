import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import { copyLine } from "./copy-text";
import type { StreamRecord } from "./stream-record";

/** Columns of the staging table, in COPY order (times as epoch ms: cheaper to write and parse). */
export const HEARTBEAT_COLUMNS = [
  "time_ms",
  "group_name",
  "node_id",
  "seq",
  "sent_ms",
  "interval_ms",
  "allowed_misses",
  "uptime_ms",
  "leaving",
  "instance_id",
  "hostname",
  "service_name",
  "sdk_version",
  "config",
  "config_full",
  "stream_seq",
] as const;

/**
 * Turns a stored heartbeat into one COPY line. The row's time is the stream timestamp (when the
 * server stored it), so a redelivery yields the same (time, stream_seq) key. Group and node come
 * from the message, falling back to the subject (`<prefix>.hb.<group>.<node>`). This runs once
 * per heartbeat at up to 100,000 per second, hence the hand-built JSON.
 */
export function heartbeatLine(rec: StreamRecord): string {
  const hb = decodeMessage(Heartbeat, rec.data);
  let group = hb.group;
  let node = hb.nodeId;
  if (!group || !node) {
    const [, , subjGroup, subjNode] = rec.subject.split(".");
    group ||= subjGroup ?? "";
    node ||= subjNode ?? "";
  }
  if (!group || !node) throw new Error(`heartbeat without group or node id on ${rec.subject}`);
  let revisions = "";
  let full = "";
  const config = hb.config ?? {};
  for (const key in config) {
    const r = config[key]!;
    const k = JSON.stringify(key);
    const rev = Number(r.revision ?? 0);
    revisions += `${revisions ? "," : ""}${k}:${rev}`;
    full +=
      `${full ? "," : ""}${k}:{"revision":${rev},"sha256":${JSON.stringify(r.sha256 ?? "")},` +
      `"appliedAtMs":${Number(r.appliedAtMs ?? 0)},"rejectedRevision":${Number(r.rejectedRevision ?? 0)},` +
      `"pendingRevision":${Number(r.pendingRevision ?? 0)}}`;
  }
  const p = hb.process;
  return copyLine([
    rec.timeMs,
    group,
    node,
    Number(hb.seq),
    Number(hb.sentAtMs) || rec.timeMs,
    Number(hb.intervalMs) || null,
    Number(hb.allowedMisses) || null,
    Number(hb.uptimeMs),
    hb.leaving,
    p?.instanceId ?? "",
    p?.hostname || null,
    p?.serviceName || null,
    p?.sdkVersion || null,
    `{${revisions}}`,
    `{${full}}`,
    rec.streamSeq,
  ]);
}
