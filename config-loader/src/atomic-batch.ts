import { randomUUID } from "node:crypto";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { NatsHeader } from "@konorkestra/sdk/internal";

/** Most messages the server accepts in one atomic batch. */
export const MAX_BATCH_MESSAGES = 1000;

/** One message of a batch. */
export interface BatchMessage {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
}

/** Where the batch landed: messages got `lastSeq - count + 1` … `lastSeq`, in order. */
export interface BatchAck {
  stream: string;
  lastSeq: number;
  count: number;
}

interface ServerReply {
  stream?: string;
  seq?: number;
  count?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

/**
 * Writes `messages` as one JetStream atomic batch (server ≥ 2.12, stream `allow_atomic`): the
 * stream stores all of them or none, with contiguous sequences.
 *
 * This speaks the batch protocol directly (headers `Nats-Batch-Id`, `Nats-Batch-Sequence`,
 * `Nats-Batch-Commit`) instead of nats.js `startBatch().commit()`, because `commit()` replaces the
 * server's reason for a refusal ("atomic publish is disabled", "batch is incomplete") with a
 * count-mismatch message, and an operator needs the real one.
 */
export async function publishAtomicBatch(
  nc: NatsConnection,
  messages: BatchMessage[],
  timeoutMs = 10_000,
): Promise<BatchAck> {
  if (messages.length < 2 || messages.length > MAX_BATCH_MESSAGES) {
    throw new RangeError(
      `an atomic batch has 2-${MAX_BATCH_MESSAGES} messages, not ${messages.length}`,
    );
  }
  const id = randomUUID();
  const stamp = (m: BatchMessage, seq: number): MsgHdrs => {
    m.headers.set(NatsHeader.BatchId, id);
    m.headers.set(NatsHeader.BatchSequence, String(seq));
    return m.headers;
  };
  const first = messages[0]!;
  // The first message is a request so that a stream refusing batches says so before we send more.
  const firstReply = await nc.request(first.subject, first.data, {
    headers: stamp(first, 1),
    timeout: timeoutMs,
  });
  if (firstReply.data.length > 0) check(parse(firstReply.data), messages.length);
  for (let i = 1; i < messages.length - 1; i++) {
    const m = messages[i]!;
    nc.publish(m.subject, m.data, { headers: stamp(m, i + 1) });
  }
  const last = messages[messages.length - 1]!;
  const headers = stamp(last, messages.length);
  headers.set(NatsHeader.BatchCommit, "1");
  const reply = await nc.request(last.subject, last.data, { headers, timeout: timeoutMs });
  const ack = check(parse(reply.data), messages.length);
  if (ack.count !== messages.length) {
    throw new KonError(
      KonErrorCode.PublishFailed,
      `atomic batch to ${ack.stream} stored ${ack.count} of ${messages.length} messages`,
    );
  }
  return ack;
}

function parse(data: Uint8Array): ServerReply {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as ServerReply;
  } catch {
    return { error: { description: "unreadable reply from the server" } };
  }
}

function check(r: ServerReply, n: number): BatchAck {
  if (r.error || typeof r.seq !== "number" || r.seq === 0) {
    const why = r.error?.description ?? "no sequence in the reply";
    const code = r.error?.err_code ? ` (err_code ${r.error.err_code})` : "";
    throw new KonError(
      KonErrorCode.PublishFailed,
      `atomic batch of ${n} messages to ${r.stream ?? "?"} refused: ${why}${code}`,
    );
  }
  return { stream: r.stream ?? "", lastSeq: r.seq, count: r.count ?? 0 };
}
