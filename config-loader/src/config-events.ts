import type { ConfigEventInit } from "@konorkestra/proto";
import { configEventKind, sha256Hex } from "@konorkestra/sdk/internal";
import type { ConfigEventWord, SourceProblem } from "@konorkestra/sdk/internal";

/**
 * Deterministic event ids (sent as `Nats-Msg-Id`): the same fact reported twice — a retry, a
 * second loader — is stored once by `KON_EVENTS` within its duplicate window.
 */
export function eventId(kind: ConfigEventWord, ...parts: string[]): string {
  return `cfg-${kind}-${sha256Hex(parts.join("\u0000")).slice(0, 40)}`;
}

/** One event per key written; `revision` is the key's new KV revision. */
export function writtenEvent(p: {
  group: string;
  key: string;
  deleted: boolean;
  revision: number;
  sha256: string;
  changeSetId: string;
  sourcePath: string;
  atMs: number;
}): ConfigEventInit {
  const word = p.deleted ? "deleted" : "published";
  return {
    eventId: eventId(word, p.group, p.changeSetId, p.key),
    group: p.group,
    key: p.key,
    kind: configEventKind(word),
    revision: p.revision,
    sha256: p.sha256,
    changeSetId: p.changeSetId,
    sourcePath: p.sourcePath,
    atMs: p.atMs,
  };
}

/**
 * A file the loader refused; `fingerprint` identifies its content (sha256 of its bytes). The id
 * also holds the key's current revision: re-reading the same bad bytes is the same event, but
 * breaking the file the same way again after a fix (a new revision) is a new one.
 */
export function rejectedEvent(p: {
  group: string;
  key: string;
  sourcePath: string;
  fingerprint: string;
  currentRevision: number;
  problem: SourceProblem;
  atMs: number;
}): ConfigEventInit {
  const sha = /^[0-9a-f]{64}/.test(p.fingerprint) ? p.fingerprint.slice(0, 64) : "";
  return {
    eventId: eventId("rejected", p.group, p.sourcePath, p.fingerprint, String(p.currentRevision)),
    group: p.group,
    key: p.key,
    kind: configEventKind("rejected"),
    sha256: sha,
    sourcePath: p.sourcePath,
    error: {
      file: p.sourcePath,
      line: p.problem.line,
      column: p.problem.column,
      reason: p.problem.reason,
      code: p.problem.code,
      valuePath: p.problem.valuePath ?? "",
    },
    atMs: p.atMs,
  };
}

/**
 * A STRONG write abandoned after its prepare round: nothing was written. One per key, naming
 * every node that refused or did not answer (`reason`), with the candidate's sha256.
 */
export function abortedEvent(p: {
  group: string;
  key: string;
  sha256: string;
  sourcePath: string;
  prepareId: string;
  reason: string;
  atMs: number;
}): ConfigEventInit {
  return {
    eventId: eventId("aborted", p.group, p.prepareId, p.key),
    group: p.group,
    key: p.key,
    kind: configEventKind("aborted"),
    sha256: p.sha256,
    sourcePath: p.sourcePath,
    prepareId: p.prepareId,
    error: { file: p.sourcePath, reason: p.reason, code: "prepare" },
    atMs: p.atMs,
  };
}

/** One node's no (or silence) in a prepare round. */
export function prepareFailedEvent(p: {
  group: string;
  key: string;
  node: string;
  prepareId: string;
  error: SourceProblemLike;
  atMs: number;
}): ConfigEventInit {
  return {
    eventId: eventId("prepare_failed", p.group, p.prepareId, p.node, p.key),
    group: p.group,
    key: p.key,
    kind: configEventKind("prepare_failed"),
    nodeId: p.node,
    prepareId: p.prepareId,
    error: { ...p.error },
    atMs: p.atMs,
  };
}

/** The fields of a SourceError a prepare failure carries. */
export interface SourceProblemLike {
  file?: string | null;
  reason?: string | null;
  code?: string | null;
  valuePath?: string | null;
  line?: number | null;
  column?: number | null;
}
