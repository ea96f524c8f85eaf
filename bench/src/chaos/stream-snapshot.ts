import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEvent, NodeEvent, decodeMessage } from "@konorkestra/proto";
import { nodeEventWord, wireNames } from "@konorkestra/sdk/internal";
import type { NodeEventSeen, SeqTime } from "./chaos-tally";

/** An event of KON_EVENTS with the id analytics keys its row by. */
export interface StreamEvent {
  readonly seq: number;
  readonly family: "node" | "config";
  /** The event's id, else its `Nats-Msg-Id`, else `seq-<n>`: analytics' rule for the row key. */
  readonly id: string;
  /** Set for node events. */
  readonly node?: NodeEventSeen;
}

/** KON_HB and KON_EVENTS as they were at one moment, message by message. */
export interface StreamSnapshot {
  readonly heartbeats: SeqTime[];
  readonly heartbeatLastSeq: number;
  readonly events: StreamEvent[];
  readonly eventLastSeq: number;
  /** Each stream's state at the snapshot, for the notes (first..last sequence, messages). */
  readonly states: string[];
}

/**
 * Reads both streams from their first message up to their last sequence at the time of the
 * call, with ordered consumers (the test user's rights). What comes later is not judged: the
 * fleet keeps beating while the checks run, so live nodes stay live.
 */
export async function snapshotStreams(nc: NatsConnection): Promise<StreamSnapshot> {
  const names = wireNames();
  const jsm = await jetstreamManager(nc);
  const hbState = (await jsm.streams.info(names.heartbeatStream)).state;
  const evtState = (await jsm.streams.info(names.eventStream)).state;
  const hbLast = hbState.last_seq;
  const evtLast = evtState.last_seq;
  const states = [
    `${names.heartbeatStream} #${hbState.first_seq}..${hbLast}, ${hbState.messages} messages`,
    `${names.eventStream} #${evtState.first_seq}..${evtLast}, ${evtState.messages} messages`,
  ];
  const heartbeats: SeqTime[] = [];
  await readUpTo(nc, names.heartbeatStream, hbLast, (m) =>
    heartbeats.push({ seq: m.seq, timeMs: m.info.timestampNanos / 1e6 }),
  );
  const events: StreamEvent[] = [];
  await readUpTo(nc, names.eventStream, evtLast, (m) => {
    const ev = readEvent(names, m);
    if (ev) events.push(ev);
  });
  return { heartbeats, heartbeatLastSeq: hbLast, events, eventLastSeq: evtLast, states };
}

function readEvent(names: ReturnType<typeof wireNames>, m: JsMsg): StreamEvent | undefined {
  const address = names.parseEventSubject(m.subject);
  if (!address) return undefined;
  const fallback = m.headers?.get("Nats-Msg-Id") || `seq-${m.seq}`;
  if (address.kind.startsWith("node.")) {
    const ev = decodeMessage(NodeEvent, m.data);
    const id = ev.eventId || fallback;
    const node: NodeEventSeen = {
      eventId: id,
      node: ev.nodeId,
      kind: nodeEventWord(ev.kind) ?? "unknown",
      detectedAtMs: Number(ev.detectedAtMs),
    };
    return { seq: m.seq, family: "node", id, node };
  }
  const ev = decodeMessage(ConfigEvent, m.data);
  return { seq: m.seq, family: "config", id: ev.eventId || fallback };
}

async function readUpTo(
  nc: NatsConnection,
  stream: string,
  lastSeq: number,
  onMsg: (m: JsMsg) => void,
): Promise<void> {
  if (lastSeq === 0) return;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 2000 });
  const deadline = setTimeout(() => void messages.close(), 120_000);
  try {
    for await (const m of messages) {
      if (m.seq > lastSeq) break;
      onMsg(m);
      // Nothing after it in the stream: the messages up to lastSeq are all read.
      if (m.seq === lastSeq || m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(deadline);
    await messages.close();
  }
}
