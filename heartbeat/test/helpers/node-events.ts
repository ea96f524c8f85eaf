import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { nodeEventWord, wireNames } from "@konorkestra/sdk/internal";
import type { NodeEventWord } from "@konorkestra/sdk/internal";

/** A stored node event, with the kind as the subject names it. */
export interface StoredNodeEvent {
  kind: NodeEventWord;
  group: string;
  node: string;
  event: NodeEvent;
  seq: number;
}

const names = wireNames("kon");

/** Every node event stored in KON_EVENTS (de-duplicated by the stream, as consumers see them). */
export async function readNodeEvents(
  nc: NatsConnection,
  stream = "KON_EVENTS",
): Promise<StoredNodeEvent[]> {
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  if (info.state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const out: StoredNodeEvent[] = [];
  const messages = await consumer.fetch({ max_messages: info.state.messages, expires: 5000 });
  for await (const m of messages) {
    if (!names.parseEventSubject(m.subject)?.kind.startsWith("node.")) continue;
    const event = decodeMessage(NodeEvent, m.data);
    out.push({
      kind: nodeEventWord(event.kind)!,
      group: event.group,
      node: event.nodeId,
      event,
      seq: m.seq,
    });
    if (m.info.pending === 0) break;
  }
  return out;
}

/** Polls the stored events until `done` holds, or fails after `timeoutMs` showing what it saw. */
export async function waitForEvents(
  nc: NatsConnection,
  done: (events: StoredNodeEvent[]) => boolean,
  timeoutMs = 15_000,
): Promise<StoredNodeEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await readNodeEvents(nc);
    if (done(events)) return events;
    if (Date.now() > deadline) {
      throw new Error(`events not as expected after ${timeoutMs} ms: ${describe(events)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `up g1.n1, down g1.n2 (suspect)` — for assertion messages. */
export function describe(events: StoredNodeEvent[]): string {
  return (
    events
      .map((e) => `${e.kind} ${e.group}.${e.node}${e.event.suspect ? " (suspect)" : ""}`)
      .join(", ") || "none"
  );
}

/** Events of one node and kind. */
export function eventsOf(
  events: StoredNodeEvent[],
  node: string,
  kind?: StoredNodeEvent["kind"],
): StoredNodeEvent[] {
  return events.filter((e) => e.node === node && (kind === undefined || e.kind === kind));
}

/** Waits until `check` holds (polling), or fails with `what`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
