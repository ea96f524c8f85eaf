import { isNodeEventWord } from "./event-kinds";
import type { NodeEventWord } from "./event-kinds";
import { isGroupName, isNodeId, kvSubject, kvSubjectPrefix, nodeKey, parseNodeKey } from "./names";
import type { HeartbeatAddress, WireNames } from "./names";

/**
 * Liveness rules: what a heartbeat's timing buys a node, and the names the liveness monitor
 * writes on the wire (its consumer, its `kon_nodes` records, its membership leases, its event
 * ids). Senders, the monitor and the benchmarks must agree on them.
 */

/** Longest heartbeat interval the monitor honours; a longer one is clamped to it. */
export const MAX_INTERVAL_MS = 3_600_000;
/** Most beats a node may miss; more are clamped to it. */
export const MAX_MISSES = 100;
/** Monitor ids: one KV key token and part of a consumer name. */
export const MONITOR_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A NATS per-message TTL in whole seconds, rounded up, at least 1 (what `Nats-TTL` can say). */
function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Liveness TTL: interval × misses rounded up to whole seconds, at least 1 s — what the NATS KV
 * per-key TTL can express, so the monitor's in-memory deadline and the server's marker agree.
 */
export function livenessTtlMs(intervalMs: number, misses: number): number {
  return wholeSeconds(intervalMs * misses) * 1000;
}

/** The `Nats-TTL` header value of a TTL in ms: whole seconds rounded up, at least `1s`. */
export function natsTtl(ms: number): string {
  return `${wholeSeconds(ms)}s`;
}

/** Name of a monitor's durable consumer on the heartbeat stream: `<prefix>_monitor_<id>`. */
export function monitorConsumerName(names: Pick<WireNames, "prefix">, monitorId: string): string {
  return `${names.prefix}_monitor_${monitorId}`;
}

/** Subject of a node event: `<prefix>.evt.<group>.node.<word>`. */
export function nodeEventSubject(names: WireNames, group: string, word: NodeEventWord): string {
  return names.eventSubject(group, `node.${word}`);
}

/** Subject a node's liveness record is written to: `$KV.<prefix>_nodes.<group>.<node>`. */
export function nodeRecordSubject(names: WireNames, group: string, node: string): string {
  return kvSubject(names.nodesBucket, nodeKey(group, node));
}

/** Every liveness record: `$KV.<prefix>_nodes.>`. */
export function nodeRecordFilter(names: WireNames): string {
  return `${kvSubjectPrefix(names.nodesBucket)}>`;
}

/** Group and node of a liveness record subject; undefined when the subject is not one. */
export function parseNodeRecordSubject(
  names: WireNames,
  subject: string,
): HeartbeatAddress | undefined {
  const head = kvSubjectPrefix(names.nodesBucket);
  return subject.startsWith(head) ? parseNodeKey(subject.slice(head.length)) : undefined;
}

/** Subject of a monitor's membership lease: `$KV.<prefix>_monitors.<monitor id>`. */
export function monitorLeaseSubject(names: WireNames, monitorId: string): string {
  if (!MONITOR_ID.test(monitorId)) {
    throw new TypeError(`invalid monitor id ${JSON.stringify(monitorId)}`);
  }
  return kvSubject(names.monitorsBucket, monitorId);
}

/** Every membership lease: `$KV.<prefix>_monitors.>`. */
export function monitorLeaseFilter(names: WireNames): string {
  return `${kvSubjectPrefix(names.monitorsBucket)}>`;
}

/** Monitor id of a membership lease subject; undefined when the subject is not one. */
export function parseMonitorLeaseSubject(names: WireNames, subject: string): string | undefined {
  const head = kvSubjectPrefix(names.monitorsBucket);
  if (!subject.startsWith(head)) return undefined;
  const id = subject.slice(head.length);
  return MONITOR_ID.test(id) ? id : undefined;
}

/** The parts of a node event id. */
export interface NodeEventIdParts extends HeartbeatAddress {
  readonly word: NodeEventWord;
  /**
   * What names the transition: the heartbeat stream sequence of the heartbeat it rests on, or
   * `i<instance id>` for the first sighting of a process.
   */
  readonly ref: string;
}

/**
 * Id of a node event, sent as `Nats-Msg-Id`: `<group>.<node>.<word>.<ref>`. Every monitor and
 * every replay names one transition alike, so the event stream keeps one copy. The group and
 * node are taken as already checked (they come from a heartbeat subject).
 */
export function nodeEventId(group: string, node: string, word: NodeEventWord, ref: string): string {
  return `${group}.${node}.${word}.${ref}`;
}

/** The parts of a node event id; undefined when `id` is not one. */
export function parseNodeEventId(id: string): NodeEventIdParts | undefined {
  const a = id.indexOf(".");
  const b = a < 0 ? -1 : id.indexOf(".", a + 1);
  const c = b < 0 ? -1 : id.indexOf(".", b + 1);
  if (c < 0) return undefined;
  const group = id.slice(0, a);
  const node = id.slice(a + 1, b);
  const word = id.slice(b + 1, c);
  const ref = id.slice(c + 1);
  if (!isGroupName(group) || !isNodeId(node) || !isNodeEventWord(word) || ref === "") {
    return undefined;
  }
  return { group, node, word, ref };
}
