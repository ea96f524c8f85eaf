import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { monitorConsumerName } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { MonitorProcess } from "../liveness/monitor-process";

/** What a monitor's `/healthz` says (the fields the readiness check reads). */
interface Health {
  current?: boolean;
  joined?: boolean;
  members?: string[];
}

/**
 * Why the monitors cannot judge downs yet, or undefined when every one is current (`/healthz`),
 * joined, sees all the others joined, and has at most `maxPending` heartbeats waiting on its
 * KON_HB consumer. A stop while one is behind or out of the membership measures its backlog (and
 * the handover between monitors), not detection.
 */
export async function monitorsNotReady(
  monitors: readonly MonitorProcess[],
  jsm: JetStreamManager,
  names: WireNames,
  maxPending: number,
): Promise<string | undefined> {
  const reasons = await Promise.all(
    monitors.map(async (m, i) => {
      const id = m.env.KON_MONITOR_ID ?? "";
      const [res, info] = await Promise.all([
        fetch(`${m.url}/healthz`),
        jsm.consumers.info(names.heartbeatStream, monitorConsumerName(names, id)),
      ]);
      const h = (await res.json()) as Health;
      const out: string[] = [];
      if (!h.current) out.push("consumer not current");
      if (!h.joined) out.push("not joined");
      else if ((h.members ?? []).length < monitors.length)
        out.push(`sees ${(h.members ?? []).length} of ${monitors.length} members`);
      if (info.num_pending > maxPending) out.push(`${info.num_pending} heartbeats pending`);
      return out.length > 0 ? `monitor ${i + 1}: ${out.join(", ")}` : undefined;
    }),
  );
  const not = reasons.filter((r) => r !== undefined);
  return not.length > 0 ? not.join("; ") : undefined;
}

/** Downs of a group as KON_EVENTS stored them (after its duplicate window dropped re-publishes). */
export interface StoredDowns {
  /** node.down messages stored. */
  readonly stored: number;
  /** Distinct nodes among them. */
  readonly nodes: number;
  /**
   * Downs stored while the node's previous stored event was already a down (no up between):
   * a second report of one outage, under an id naming another last beat.
   */
  readonly duplicates: number;
}

/** Reads the group's stored node events in KON_EVENTS in order (an ordered consumer, to the end). */
export async function countStoredDowns(
  nc: NatsConnection,
  names: WireNames,
  group: string,
): Promise<StoredDowns> {
  const consumer = await jetstream(nc).consumers.get(names.eventStream, {
    filter_subjects: [names.groupEventFilter(group, "node")],
    deliver_policy: DeliverPolicy.All,
  });
  const last = new Map<string, NodeEvent.Kind>();
  const downNodes = new Set<string>();
  let stored = 0;
  let duplicates = 0;
  for (let pending = (await consumer.info()).num_pending; pending > 0;) {
    let got = 0;
    const messages = await consumer.fetch({ max_messages: pending, expires: 10_000 });
    for await (const m of messages) {
      got++;
      const ev = decodeMessage(NodeEvent, m.data);
      if (ev.kind === NodeEvent.Kind.DOWN) {
        stored++;
        downNodes.add(ev.nodeId);
        if (last.get(ev.nodeId) === NodeEvent.Kind.DOWN) duplicates++;
      }
      last.set(ev.nodeId, ev.kind);
      pending = m.info.pending;
      if (pending === 0) break;
    }
    if (got === 0) throw new Error(`KON_EVENTS: ${pending} node events of ${group} not delivered`);
  }
  return { stored, nodes: downNodes.size, duplicates };
}
