import { ConfigEvent, decodeMessage } from "@konorkestra/proto";
import { assertConfigKey, configEventWord, isNodeId } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { ConfigProvenance } from "../../model/config-change";
import type { ConfigEventKind } from "../../model/event-kinds";
import { copyLine, copyTime } from "../../pg/copy-text";
import type { StreamRecord } from "../stream-record";
import { checkPayloadAgrees, eventAddress } from "./event-address";
import { MAX_EVENT_AGE_MS, claimedTime } from "../../model/time-window";

/** One config event, decoded; provenance is filled in by the writer where it can be found. */
export interface ConfigEventRow {
  timeMs: number;
  eventId: string;
  group: string;
  key: string;
  kind: ConfigEventKind;
  /** KV revision; undefined when nothing was written (loader rejection, abort). */
  revision?: number;
  sha256: string;
  changeSetId: string;
  sourcePath: string;
  nodeId: string;
  prepareId: string;
  /** `applied` only: a newer revision the node holds but does not run yet. */
  pendingRevision?: number;
  error?: {
    file: string;
    line: number;
    column: number;
    reason: string;
    code: string;
    valuePath: string;
  };
  provenance?: ConfigProvenance;
  streamSeq: number;
  receivedAtMs: number;
}

/** Columns of the config event staging table, in COPY order. */
export const CONFIG_EVENT_COLUMNS = [
  "time",
  "event_id",
  "group_name",
  "key",
  "kind",
  "revision",
  "sha256",
  "change_set_id",
  "source_path",
  "node_id",
  "prepare_id",
  "error_file",
  "error_line",
  "error_column",
  "error_reason",
  "error_code",
  "error_value_path",
  "git_commit",
  "git_author",
  "published_by",
  "stream_seq",
  "received_at",
  "pending_revision",
] as const;

/**
 * Decodes a stored ConfigEvent. Group and kind are the subject's (the payload may not contradict
 * them); time = at_ms (the stream time when missing); the event id falls back to `Nats-Msg-Id`,
 * then to the stream sequence, so every row has a key. An event of unknown kind, on the subject or
 * in the payload, is refused (kept in ingest_rejects) rather than dropped, so a newer publisher's
 * events are not silently lost.
 */
export function configEventRow(names: WireNames, rec: StreamRecord): ConfigEventRow {
  const address = eventAddress(names, rec.subject, "config");
  const ev = decodeMessage(ConfigEvent, rec.data);
  const kind = configEventWord(ev.kind);
  if (!kind) throw new Error(`config event of unknown kind ${ev.kind} on ${rec.subject}`);
  checkPayloadAgrees(address, { group: ev.group, word: kind }, rec.subject);
  const group = address.group;
  // A published or deleted event names a key of the bucket (its provenance is read from it); a
  // rejection may name none (a file that maps to no key). A node, where named, is a node id.
  if (kind !== "rejected" || ev.key !== "") assertConfigKey(ev.key);
  if (ev.nodeId !== "" && !isNodeId(ev.nodeId)) {
    throw new Error(
      `config event with invalid node id ${JSON.stringify(ev.nodeId)} on ${rec.subject}`,
    );
  }
  const err = ev.error;
  return {
    timeMs: claimedTime(Number(ev.atMs), rec.timeMs, MAX_EVENT_AGE_MS),
    eventId: ev.eventId || rec.msgId || `seq-${rec.streamSeq}`,
    group,
    key: ev.key,
    kind,
    revision: Number(ev.revision) || undefined,
    sha256: ev.sha256,
    changeSetId: ev.changeSetId,
    sourcePath: ev.sourcePath,
    nodeId: ev.nodeId,
    prepareId: ev.prepareId,
    pendingRevision: Number(ev.pendingRevision) || undefined,
    error: err
      ? {
          file: err.file ?? "",
          line: err.line ?? 0,
          column: err.column ?? 0,
          reason: err.reason ?? "",
          code: err.code ?? "",
          valuePath: err.valuePath ?? "",
        }
      : undefined,
    streamSeq: rec.streamSeq,
    receivedAtMs: rec.timeMs,
  };
}

/** The COPY text line of a row (line and column 0 mean unknown: stored as NULL). */
export function configEventLine(r: ConfigEventRow): string {
  const e = r.error;
  return copyLine([
    copyTime(r.timeMs),
    r.eventId,
    r.group,
    r.key,
    r.kind,
    r.revision,
    r.sha256,
    r.changeSetId,
    r.sourcePath,
    r.nodeId,
    r.prepareId,
    e?.file,
    e?.line || undefined,
    e?.column || undefined,
    e?.reason,
    e?.code,
    e?.valuePath,
    r.provenance?.gitCommit,
    r.provenance?.gitAuthor,
    r.provenance?.publishedBy,
    r.streamSeq,
    copyTime(r.receivedAtMs),
    r.pendingRevision,
  ]);
}
