import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { isNodeId, nodeEventWord } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { copyLine, copyTime } from "../../pg/copy-text";
import type { StreamRecord } from "../stream-record";
import { checkPayloadAgrees, eventAddress } from "./event-address";

/** Columns of the node event staging table, in COPY order. */
export const NODE_EVENT_COLUMNS = [
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

/**
 * Turns a stored NodeEvent into one COPY line, or undefined for an event that carries no node
 * transition this version knows (its kind). The group and kind are the subject's (the payload may
 * not contradict them); the node is the payload's, a valid node id. time = detected_at_ms (the
 * stream time when it is missing); the event id falls back to `Nats-Msg-Id`, then to the stream
 * sequence, so every row has a key.
 */
export function nodeEventLine(names: WireNames, rec: StreamRecord): string | undefined {
  const address = eventAddress(names, rec.subject, "node");
  const ev = decodeMessage(NodeEvent, rec.data);
  const word = nodeEventWord(ev.kind);
  if (!word) return undefined;
  checkPayloadAgrees(address, { group: ev.group, word }, rec.subject);
  const node = ev.nodeId || ev.lastHeartbeat?.nodeId || "";
  if (!isNodeId(node)) {
    throw new Error(`node event with invalid node id ${JSON.stringify(node)} on ${rec.subject}`);
  }
  const time = Number(ev.detectedAtMs) || rec.timeMs;
  const lastSeen = Number(ev.lastSeenMs);
  return copyLine([
    copyTime(time),
    ev.eventId || rec.msgId || `seq-${rec.streamSeq}`,
    address.group,
    node,
    word,
    lastSeen ? copyTime(lastSeen) : null,
    ev.lastHeartbeat ? Number(ev.lastHeartbeat.seq) : null,
    ev.reason,
    ev.suspect,
    ev.monitorId,
    rec.streamSeq,
    copyTime(rec.timeMs),
  ]);
}
