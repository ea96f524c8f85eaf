import type { JetStreamClient } from "@nats-io/jetstream";
import { NodeEvent, encodeMessage } from "@konorkestra/proto";
import { BENCH_GROUP, nodeId } from "./bench-fleet";

/** Node whose 30-day uptime the API phase asks for. */
export const UPTIME_NODE = "uptime-node";
const DAY_MS = 86_400_000;

interface SeedEvent {
  node: string;
  kind: "up" | "down";
  atMs: number;
}

/**
 * Publishes, as the liveness monitor would, an `up` event for each of the fleet's nodes and a
 * 30-day history of `changes` alternating up/down events for {@link UPTIME_NODE} (uneven gaps,
 * so no two intervals are alike). Returns how many events were published.
 */
export async function publishSeedEvents(
  js: JetStreamClient,
  nodes: number,
  changes: number,
  nowMs = Date.now(),
): Promise<number> {
  const events: SeedEvent[] = [];
  for (let i = 0; i < nodes; i++)
    events.push({ node: nodeId(i), kind: "up", atMs: nowMs - 3_600_000 });
  const span = 31 * DAY_MS;
  for (let k = 0; k < changes; k++) {
    // Starts a day before the window, so the query also needs the state at the window's edge.
    const frac = (k + 0.5 * Math.sin(k * 7.3) * 0.4) / changes;
    events.push({
      node: UPTIME_NODE,
      kind: k % 2 === 0 ? "up" : "down",
      atMs: Math.round(nowMs - span + frac * (span - 60_000)),
    });
  }
  if (events[events.length - 1]?.kind === "down") {
    events.push({ node: UPTIME_NODE, kind: "up", atMs: nowMs - 30_000 });
  }
  const window: Promise<unknown>[] = [];
  for (const e of events) {
    const eventId = `${BENCH_GROUP}.${e.node}.${e.kind}.${e.atMs}`;
    const data = encodeMessage(NodeEvent, {
      eventId,
      group: BENCH_GROUP,
      nodeId: e.node,
      kind: e.kind === "up" ? NodeEvent.Kind.UP : NodeEvent.Kind.DOWN,
      detectedAtMs: e.atMs,
      lastSeenMs: e.atMs - 1000,
      reason: e.kind === "up" ? "first heartbeat" : "ttl expired (MaxAge)",
      monitorId: "bench-monitor",
    });
    window.push(js.publish(`kon.evt.${BENCH_GROUP}.node.${e.kind}`, data, { msgID: eventId }));
    if (window.length >= 1000) await Promise.all(window.splice(0));
  }
  await Promise.all(window);
  return events.length;
}
