import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { MAX_INTERVAL_MS, MAX_MISSES, isNodeId, nodeEventWord } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { MAX_EVENT_AGE_MS, claimedTime } from "../../model/time-window";
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
  "last_seen_trusted",
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
  const time = claimedTime(Number(ev.detectedAtMs), rec.timeMs, MAX_EVENT_AGE_MS);
  const lastSeen = lastSeenOf(ev, time);
  return copyLine([
    copyTime(time),
    ev.eventId || rec.msgId || `seq-${rec.streamSeq}`,
    address.group,
    node,
    word,
    lastSeen.ms === undefined ? null : copyTime(lastSeen.ms),
    lastSeen.trusted,
    ev.lastHeartbeat ? Number(ev.lastHeartbeat.seq) : null,
    ev.reason,
    ev.suspect,
    ev.monitorId,
    rec.streamSeq,
    copyTime(rec.timeMs),
  ]);
}

/** The longest a node can stay silent before its down: the largest TTL a heartbeat can ask for. */
const MAX_SILENCE_MS = MAX_INTERVAL_MS * MAX_MISSES;

/**
 * When the node was last seen, held between `time` − the largest TTL and `time` (a node is not
 * seen after its down was detected). Not trusted when the monitor could only fall back to the
 * transition time: the last heartbeat carried no sent_at_ms, or no last-seen time came; the
 * writer then takes the last beat analytics stored for the node.
 */
function lastSeenOf(ev: NodeEvent, time: number): { ms: number | undefined; trusted: boolean } {
  const claimed = Number(ev.lastSeenMs);
  const noSentAt =
    ev.lastHeartbeat !== undefined &&
    ev.lastHeartbeat !== null &&
    !Number(ev.lastHeartbeat.sentAtMs);
  if (!(claimed > 0)) return { ms: undefined, trusted: false };
  return { ms: Math.min(Math.max(claimed, time - MAX_SILENCE_MS), time), trusted: !noSentAt };
}
