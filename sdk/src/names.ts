import { InvalidNameError, KonError, KonErrorCode } from "./errors";

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

/** Names on the wire. Every name derives from `prefix` (default `kon`) so that several
 * installations can share one NATS account. */
export interface WireNames {
  /** First token of every subject (`kon`). */
  readonly prefix: string;
  /** KV bucket holding one group's configuration. */
  configBucket(group: string): string;
  /** KV bucket of groups (join-key hash, defaults, owner). */
  readonly groupsBucket: string;
  /** KV bucket of live nodes, one key `<group>.<node>` with a per-key TTL. */
  readonly nodesBucket: string;
  /** KV bucket of JSON Schemas registered by services, key `<group>.<config key>`. */
  readonly schemasBucket: string;
  heartbeatSubject(group: string, node: string): string;
  readonly heartbeatStream: string;
  eventSubject(group: string, kind: string): string;
  readonly eventStream: string;
}

export function wireNames(prefix = "kon"): WireNames {
  if (!/^[a-z][a-z0-9_]{0,15}$/.test(prefix)) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `invalid prefix ${JSON.stringify(prefix)}: use 1-16 lower-case letters, digits or '_', starting with a letter`,
    );
  }
  const upper = prefix.toUpperCase();
  // The default installation keeps the short bucket names of the design (`cfg_<group>`).
  const cfg = prefix === "kon" ? "cfg_" : `${prefix}_cfg_`;
  return {
    prefix,
    configBucket: (group) => cfg + assertGroupName(group),
    groupsBucket: `${prefix}_groups`,
    nodesBucket: `${prefix}_nodes`,
    schemasBucket: `${prefix}_schemas`,
    heartbeatSubject: (group, node) =>
      `${prefix}.hb.${assertGroupName(group)}.${assertNodeId(node)}`,
    heartbeatStream: `${upper}_HB`,
    eventSubject: (group, kind) => `${prefix}.evt.${assertGroupName(group)}.${kind}`,
    eventStream: `${upper}_EVENTS`,
  };
}
