import { ConfigEvent, decodeMessage } from "@konorkestra/proto";
import { copyLine, copyTime } from "./copy-text";
import type { StreamRecord } from "./stream-record";

/** Kinds of config events as stored (the subject's `config.<kind>` token). */
export const CONFIG_EVENT_KINDS = [
  "published",
  "deleted",
  "rejected",
  "applied",
  "prepare_ok",
  "prepare_failed",
  "aborted",
] as const;
export type ConfigEventKind = (typeof CONFIG_EVENT_KINDS)[number];

const KINDS: Record<number, ConfigEventKind> = {
  [ConfigEvent.Kind.PUBLISHED]: "published",
  [ConfigEvent.Kind.DELETED]: "deleted",
  [ConfigEvent.Kind.REJECTED]: "rejected",
  [ConfigEvent.Kind.APPLIED]: "applied",
  [ConfigEvent.Kind.PREPARE_OK]: "prepare_ok",
  [ConfigEvent.Kind.PREPARE_FAILED]: "prepare_failed",
  [ConfigEvent.Kind.ABORTED]: "aborted",
};

/** Where a value came from, read from its ConfigEntry (ConfigEvent does not carry it). */
export interface ConfigProvenance {
  /** ConfigEntry.git_commit; undefined when the folder is not a git checkout. */
  gitCommit?: string;
  /** ConfigEntry.git_author ("Name <email>"). */
  gitAuthor?: string;
  /** ConfigEntry.published_by: a config-loader id, or `cli:<user>`. */
  publishedBy?: string;
}

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
] as const;

/**
 * Decodes a stored ConfigEvent. time = at_ms (the stream time when missing); the group falls back
 * to the subject's, the event id to `Nats-Msg-Id`, then to the stream sequence, so every row has
 * a key. An event of unknown kind is refused (kept in ingest_rejects) rather than dropped, so a
 * newer publisher's events are not silently lost.
 */
export function configEventRow(rec: StreamRecord): ConfigEventRow {
  const ev = decodeMessage(ConfigEvent, rec.data);
  const kind = KINDS[ev.kind];
  if (!kind) throw new Error(`config event of unknown kind ${ev.kind} on ${rec.subject}`);
  const [, , subjGroup] = rec.subject.split(".");
  const group = ev.group || subjGroup || "";
  if (!group) throw new Error(`config event without group on ${rec.subject}`);
  const err = ev.error;
  return {
    timeMs: Number(ev.atMs) || rec.timeMs,
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
  ]);
}
