import type { MsgHdrs } from "@nats-io/transport-node";
import { KonHeader, NatsHeader } from "../wire/headers";
import type { RawChange } from "./raw-change";

/** Where a JetStream push delivery sits, parsed from its `$JS.ACK...` reply subject. */
export interface DeliveryPosition {
  readonly consumer: string;
  readonly streamSeq: number;
  readonly consumerSeq: number;
  /** Messages the consumer still has to deliver after this one. */
  readonly pending: number;
}

/**
 * Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` and the newer
 * form with domain and account hash (`$JS.ACK.<domain>.<hash>.<stream>...<pending>.<token>`).
 * Done here instead of through a JsMsg because the watch handles raw core messages.
 */
export function parseAckSubject(reply: string | undefined): DeliveryPosition | undefined {
  if (!reply?.startsWith("$JS.ACK.")) return undefined;
  const t = reply.split(".");
  const base = t.length === 9 ? 2 : t.length >= 12 ? 4 : -1;
  if (base < 0) return undefined;
  const streamSeq = Number(t[base + 3]);
  const consumerSeq = Number(t[base + 4]);
  const pending = Number(t[base + 6]);
  if (![streamSeq, consumerSeq, pending].every(Number.isSafeInteger)) return undefined;
  return { consumer: t[base + 1] ?? "", streamSeq, consumerSeq, pending };
}

/** Turns a KV stream message (rules: docs/wire-contract.md, "Config change sets") (`$KV.<bucket>.<key>`) into a RawChange. */
export function changeFromKvMessage(
  subjectPrefix: string,
  subject: string,
  headers: MsgHdrs | undefined,
  data: Uint8Array,
  revision: number,
): RawChange {
  const op = headers?.get(NatsHeader.KvOperation) ?? "";
  // Delete markers written by the server (TTL expiry, purge) carry a reason and no KV-Operation.
  const marker = headers?.get(NatsHeader.MarkerReason) ?? "";
  const size = Number(headers?.get(KonHeader.ChangeSetSize) ?? "1");
  return {
    key: subject.slice(subjectPrefix.length),
    revision,
    op: op === "DEL" || op === "PURGE" || marker !== "" ? "delete" : "put",
    data,
    changeSetId: headers?.get(KonHeader.ChangeSet) ?? "",
    changeSetSize: Number.isSafeInteger(size) && size > 0 ? size : 1,
    origin: "nats",
  };
}
