import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** What this needs from nats.js' connection internals: its protocol handler's raw send. */
interface RawSender {
  sendCommand(cmd: Uint8Array): void;
}

const ACK_TAIL = Buffer.from(" 4\r\n+ACK\r\n", "latin1");

/**
 * Acknowledges a committed batch. Each message still gets its own `+ACK` (the consumer is
 * AckExplicit, shared by several instances), but the `PUB` lines are written into one buffer and
 * handed to the connection at once, instead of building and encoding a protocol line per message
 * through `msg.ack()`: at 100,000 messages per second that was a tenth of the ingest's CPU.
 *
 * This uses nats.js' protocol handler (`nc.protocol.sendCommand`), which is not part of its
 * typed API; without it, or for an ack subject that is not plain ASCII, each message is acked the
 * documented way. Either way the acks go out in order on the same connection as the messages'
 * subscription, and a lost ack only means a redelivery, which the unique keys absorb.
 */
export function ackBatch(nc: NatsConnection, msgs: readonly JsMsg[]): void {
  const raw = rawSender(nc);
  if (!raw) {
    for (const m of msgs) m.ack();
    return;
  }
  const replies: string[] = [];
  let size = 0;
  for (const m of msgs) {
    const reply = (m as unknown as { reply?: unknown }).reply;
    if (typeof reply !== "string" || reply === "" || !isAscii(reply)) {
      m.ack();
      continue;
    }
    replies.push(reply);
    size += 4 + reply.length + ACK_TAIL.length;
  }
  if (replies.length === 0) return;
  const buf = Buffer.allocUnsafe(size);
  let p = 0;
  for (const reply of replies) {
    p += buf.write("PUB ", p, "latin1");
    p += buf.write(reply, p, "latin1");
    buf.set(ACK_TAIL, p);
    p += ACK_TAIL.length;
  }
  raw.sendCommand(buf);
}

function rawSender(nc: NatsConnection): RawSender | undefined {
  const proto = (nc as unknown as { protocol?: Partial<RawSender> }).protocol;
  return typeof proto?.sendCommand === "function" ? (proto as RawSender) : undefined;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return false;
  return true;
}
