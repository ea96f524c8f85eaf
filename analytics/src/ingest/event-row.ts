import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { copyLine, copyTime } from "./copy-text";
import type { StreamRecord } from "./stream-record";

/** Columns of the event staging table, in COPY order. */
export const EVENT_COLUMNS = [
  "time",
  "event_id",
  "group_name",
  "node_id",
  "kind",
  "last_seen_at",
  "last_seq",
  "reason",
  "suspect",
  "monitor_id",
  "stream_seq",
  "received_at",
] as const;

const KINDS: Record<number, string> = {
  [NodeEvent.Kind.UP]: "up",
  [NodeEvent.Kind.DOWN]: "down",
  [NodeEvent.Kind.LEFT]: "left",
  [NodeEvent.Kind.FLAPPING]: "flapping",
};

/**
 * Turns a stored NodeEvent into one COPY line, or undefined for an event that carries no node
 * transition (unknown kind). time = detected_at_ms (the stream time when it is missing); the
 * event id falls back to `Nats-Msg-Id`, then to the stream sequence, so every row has a key.
 */
export function eventLine(rec: StreamRecord): string | undefined {
  const ev = decodeMessage(NodeEvent, rec.data);
  const kind = KINDS[ev.kind];
  if (!kind) return undefined;
  const [, , subjGroup] = rec.subject.split(".");
  const group = ev.group || subjGroup || "";
  const node = ev.nodeId || ev.lastHeartbeat?.nodeId || "";
  if (!group || !node) throw new Error(`node event without group or node id on ${rec.subject}`);
  const time = Number(ev.detectedAtMs) || rec.timeMs;
  const lastSeen = Number(ev.lastSeenMs);
  return copyLine([
    copyTime(time),
    ev.eventId || rec.msgId || `seq-${rec.streamSeq}`,
    group,
    node,
    kind,
    lastSeen ? copyTime(lastSeen) : null,
    ev.lastHeartbeat ? Number(ev.lastHeartbeat.seq) : null,
    ev.reason,
    ev.suspect,
    ev.monitorId,
    rec.streamSeq,
    copyTime(rec.timeMs),
  ]);
}
