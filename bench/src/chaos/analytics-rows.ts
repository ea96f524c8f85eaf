import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { withClient } from "@konorkestra/testkit";
import type { SeqTime } from "./chaos-tally";

/** Analytics' durable consumers (its defaults): heartbeats, node events, config events. */
const CONSUMERS = [
  ["KON_HB", "analytics-hb", "heartbeats"],
  ["KON_EVENTS", "analytics-evt", "node"],
  ["KON_EVENTS", "analytics-cfg", "config"],
] as const;

/** Per consumer, the stream sequence of the last message of the snapshot it must have stored. */
export type DrainTargets = Record<(typeof CONSUMERS)[number][2], number>;

/**
 * Waits until each of analytics' consumers has its ack floor at or past the snapshot's last
 * message of its kind. Analytics acks only after COMMIT, so then every message up to the
 * snapshot is a row or a reject. (The fleet keeps beating meanwhile: "nothing pending" would
 * rarely be seen, the ack floor is exact.)
 */
export async function waitAnalyticsDrained(
  nc: NatsConnection,
  targets: DrainTargets,
  alive: () => boolean,
  timeoutMs = 180_000,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(
      CONSUMERS.map(async ([stream, name, kind]) => {
        const c = await jsm.consumers.info(stream, name);
        return { name, floor: c.ack_floor.stream_seq, target: targets[kind] };
      }),
    );
    if (states.every((s) => s.floor >= s.target)) return;
    const last = states.map((s) => `${s.name} acked to #${s.floor} of #${s.target}`).join(", ");
    if (!alive()) throw new Error(`the analytics process is gone; its consumers: ${last}`);
    if (Date.now() > deadline) throw new Error(`analytics did not store the snapshot: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What analytics stored, up to the snapshot's last sequences. */
export interface AnalyticsRows {
  readonly heartbeats: SeqTime[];
  readonly nodeEventIds: string[];
  readonly configEventIds: string[];
  /** Messages of either stream stored in `ingest_rejects` instead of a table. */
  readonly rejects: { stream: string; seq: number; reason: string }[];
}

export async function readAnalyticsRows(
  dbUrl: string,
  heartbeatLastSeq: number,
  eventLastSeq: number,
): Promise<AnalyticsRows> {
  return withClient(dbUrl, async (c) => {
    const hb = await c.query<{ seq: string; ms: number }>(
      `SELECT stream_seq AS seq, extract(epoch FROM time) * 1000 AS ms
         FROM heartbeats WHERE stream_seq <= $1`,
      [heartbeatLastSeq],
    );
    const ids = async (table: string): Promise<string[]> =>
      (
        await c.query<{ event_id: string }>(
          `SELECT event_id FROM ${table} WHERE stream_seq <= $1`,
          [eventLastSeq],
        )
      ).rows.map((r) => r.event_id);
    const rejects = await c.query<{ stream: string; seq: string; reason: string }>(
      `SELECT stream, stream_seq AS seq, reason FROM ingest_rejects`,
    );
    return {
      heartbeats: hb.rows.map((r) => ({ seq: Number(r.seq), timeMs: Number(r.ms) })),
      nodeEventIds: await ids("node_events"),
      configEventIds: await ids("config_events"),
      rejects: rejects.rows.map((r) => ({
        stream: r.stream,
        seq: Number(r.seq),
        reason: r.reason,
      })),
    };
  });
}
