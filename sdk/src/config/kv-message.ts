import type { MsgHdrs } from "@nats-io/transport-node";
import { KonHeader, NatsHeader } from "../wire/headers";
import type { RawChange } from "./raw-change";

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
