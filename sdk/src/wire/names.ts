import { InvalidNameError, KonError, KonErrorCode } from "../errors";
import { assertEventKind, isEventKind } from "./event-kinds";
import type { EventKind } from "./event-kinds";

/** Group names: lower-case letters, digits and dashes, 1–63 characters, not starting with a dash. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** One token of a NATS subject that is also a valid KV key token. */
const TOKEN = /^[A-Za-z0-9_=-]+$/;
const MAX_NODE_ID = 128;
const MAX_KEY = 255;

export function assertGroupName(group: string): string {
  if (!GROUP_NAME.test(group)) {
    throw new InvalidNameError(
      "group",
      group,
      "use 1-63 lower-case letters, digits or '-', starting with a letter or digit",
    );
  }
  return group;
}

/** A node id is one subject token: it appears in `kon.hb.<group>.<node>` and `kon_nodes` keys. */
export function assertNodeId(node: string): string {
  if (node.length === 0 || node.length > MAX_NODE_ID) {
    throw new InvalidNameError("node id", node, `length must be 1-${MAX_NODE_ID}`);
  }
  if (!TOKEN.test(node)) {
    throw new InvalidNameError(
      "node id",
      node,
      "use letters, digits, '_', '-' or '=' (no dots, spaces or wildcards)",
    );
  }
  return node;
}

/** Config keys are dotted paths of tokens (`service1`, `service1.db`); nested folders become dots. */
export function assertConfigKey(key: string): string {
  if (key.length === 0 || key.length > MAX_KEY) {
    throw new InvalidNameError("config key", key, `length must be 1-${MAX_KEY}`);
  }
  const bad = key.split(".").find((t) => !TOKEN.test(t));
  if (bad !== undefined) {
    const why =
      bad === ""
        ? "empty segment (leading, trailing or double dot)"
        : `segment ${JSON.stringify(bad)}`;
    throw new InvalidNameError(
      "config key",
      key,
      `${why}; use letters, digits, '_', '-' or '=' between dots`,
    );
  }
  return key;
}

/** Prefix of every name: 1-16 lower-case letters, digits or `_`, starting with a letter. */
export const PREFIX = /^[a-z][a-z0-9_]{0,15}$/;

/** Group and node of a heartbeat, read from its subject. */
export interface HeartbeatAddress {
  readonly group: string;
  readonly node: string;
}

/** A heartbeat subject checked: its address, or which part is wrong and why. */
export type HeartbeatSubjectCheck =
  | ({ readonly ok: true } & HeartbeatAddress)
  | { readonly ok: false; readonly part: "subject" | "group" | "node"; readonly detail: string };

/** Group and kind of an event, read from its subject. */
export interface EventAddress {
  readonly group: string;
  readonly kind: EventKind;
}

/**
 * Names on the wire. Every name derives from `prefix` (default `kon`) so that several
 * installations can share one NATS account. Builders validate the names they embed; parsers
 * return `undefined` for a subject that is not theirs or carries an invalid name, so the caller
 * decides how to report it (see docs/wire-contract.md).
 */
export interface WireNames {
  /** First token of every subject (`kon`). */
  readonly prefix: string;
  /** KV bucket holding one group's configuration. */
  configBucket(group: string): string;
  /** KV bucket of groups (join-key hash, defaults, owner). */
  readonly groupsBucket: string;
  /** KV bucket of live nodes, one key `<group>.<node>` with a per-key TTL. */
  readonly nodesBucket: string;
  /** KV bucket of the liveness monitors' membership leases. */
  readonly monitorsBucket: string;
  /** KV bucket of JSON Schemas registered by services, key `<group>.<config key>`. */
  readonly schemasBucket: string;
  /** Ids of revoked API tokens, which token verifiers follow: `<prefix>_revoked`. */
  readonly revokedBucket: string;
  /** `<prefix>.hb.<group>.<node>`. */
  heartbeatSubject(group: string, node: string): string;
  /** Every heartbeat subject: `<prefix>.hb.>`. */
  readonly heartbeatFilter: string;
  readonly heartbeatStream: string;
  /** `<prefix>.evt.<group>.<kind>` (`kind` is `node.down`, `config.published`, ...). */
  eventSubject(group: string, kind: EventKind): string;
  /** Every event subject: `<prefix>.evt.>`. */
  readonly eventFilter: string;
  /**
   * `<prefix>.prep.<group>`: where the config-loader sends a STRONG write's candidates
   * (PrepareRequest) and every live member of the group answers (PrepareVote).
   */
  prepareSubject(group: string): string;
  /** Every event of one family of one group: `<prefix>.evt.<group>.<family>.*`. */
  groupEventFilter(group: string, family: "node" | "config"): string;
  /** Every node event: `<prefix>.evt.*.node.>`. */
  readonly nodeEventFilter: string;
  /** Every config event: `<prefix>.evt.*.config.>`. */
  readonly configEventFilter: string;
  readonly eventStream: string;
  /** Group and node of `<prefix>.hb.<group>.<node>`; undefined when the subject is not one. */
  parseHeartbeatSubject(subject: string): HeartbeatAddress | undefined;
  /** {@link parseHeartbeatSubject} that says which part is wrong, for error reports. */
  checkHeartbeatSubject(subject: string): HeartbeatSubjectCheck;
  /** Group and kind of `<prefix>.evt.<group>.<family>.<word>`; undefined when not an event subject. */
  parseEventSubject(subject: string): EventAddress | undefined;
}

/** Prefix of every message subject of a KV bucket's stream: `$KV.<bucket>.`. */
export function kvSubjectPrefix(bucket: string): string {
  return `$KV.${bucket}.`;
}

/** Subject of one key of a KV bucket, as a put or a batch publishes to it: `$KV.<bucket>.<key>`. */
export function kvSubject(bucket: string, key: string): string {
  return kvSubjectPrefix(bucket) + key;
}

/** Key of a node in the liveness bucket: `<group>.<node>`. */
export function nodeKey(group: string, node: string): string {
  return `${assertGroupName(group)}.${assertNodeId(node)}`;
}

/** Splits a liveness key `<group>.<node>`; undefined when either name is invalid. */
export function parseNodeKey(key: string): HeartbeatAddress | undefined {
  const dot = key.indexOf(".");
  if (dot <= 0) return undefined;
  const group = key.slice(0, dot);
  const node = key.slice(dot + 1);
  return isGroupName(group) && isNodeId(node) ? { group, node } : undefined;
}

export function isGroupName(group: string): boolean {
  return GROUP_NAME.test(group);
}

export function isNodeId(node: string): boolean {
  return node.length > 0 && node.length <= MAX_NODE_ID && TOKEN.test(node);
}

export function wireNames(prefix = "kon"): WireNames {
  if (!PREFIX.test(prefix)) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `invalid prefix ${JSON.stringify(prefix)}: use 1-16 lower-case letters, digits or '_', starting with a letter`,
    );
  }
  const upper = prefix.toUpperCase();
  // The default installation keeps the short bucket names of the design (`cfg_<group>`).
  const cfg = prefix === "kon" ? "cfg_" : `${prefix}_cfg_`;
  const hb = `${prefix}.hb.`;
  const evt = `${prefix}.evt.`;
  return {
    prefix,
    configBucket: (group) => cfg + assertGroupName(group),
    groupsBucket: `${prefix}_groups`,
    nodesBucket: `${prefix}_nodes`,
    monitorsBucket: `${prefix}_monitors`,
    schemasBucket: `${prefix}_schemas`,
    revokedBucket: `${prefix}_revoked`,
    heartbeatSubject: (group, node) => hb + nodeKey(group, node),
    heartbeatFilter: `${hb}>`,
    heartbeatStream: `${upper}_HB`,
    eventSubject: (group, kind) => `${evt}${assertGroupName(group)}.${assertEventKind(kind)}`,
    eventFilter: `${evt}>`,
    prepareSubject: (group) => `${prefix}.prep.${assertGroupName(group)}`,
    groupEventFilter: (group, family) => `${evt}${assertGroupName(group)}.${family}.*`,
    nodeEventFilter: `${evt}*.node.>`,
    configEventFilter: `${evt}*.config.>`,
    eventStream: `${upper}_EVENTS`,
    parseHeartbeatSubject: (subject) =>
      subject.startsWith(hb) ? parseNodeKey(subject.slice(hb.length)) : undefined,
    checkHeartbeatSubject: (subject) => checkHeartbeatSubject(hb, subject),
    parseEventSubject: (subject) => {
      if (!subject.startsWith(evt)) return undefined;
      const dot = subject.indexOf(".", evt.length);
      if (dot < 0) return undefined;
      const group = subject.slice(evt.length, dot);
      const kind = subject.slice(dot + 1);
      return isGroupName(group) && isEventKind(kind) ? { group, kind } : undefined;
    },
  };
}

function checkHeartbeatSubject(hb: string, subject: string): HeartbeatSubjectCheck {
  const dot = subject.indexOf(".", hb.length);
  if (!subject.startsWith(hb) || dot <= hb.length) {
    return { ok: false, part: "subject", detail: `subject ${subject} is not ${hb}<group>.<node>` };
  }
  const group = subject.slice(hb.length, dot);
  const node = subject.slice(dot + 1);
  if (node.includes(".")) {
    return { ok: false, part: "subject", detail: `subject ${subject} is not ${hb}<group>.<node>` };
  }
  if (!isGroupName(group)) {
    return { ok: false, part: "group", detail: `invalid group ${JSON.stringify(group)}` };
  }
  if (!isNodeId(node)) {
    try {
      assertNodeId(node);
    } catch (err) {
      return { ok: false, part: "node", detail: (err as Error).message };
    }
  }
  return { ok: true, group, node };
}
