import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { withClient } from "@konorkestra/testkit";
import type { SeqTime } from "./chaos-tally";

/** Analytics' durable consumers (its defaults): heartbeats, node events, config events. */
const CONSUMERS = [
  ["KON_HB", "analytics-hb"],
  ["KON_EVENTS", "analytics-evt"],
  ["KON_EVENTS", "analytics-cfg"],
] as const;

/**
 * Waits until analytics has acknowledged everything its consumers were offered: nothing pending,
 * nothing awaiting an ack, twice in a row a second apart. Analytics acks only after COMMIT, so
 * then every message up to the snapshot is either a row or a reject.
 */
export async function waitAnalyticsDrained(
  nc: NatsConnection,
  alive: () => boolean,
  timeoutMs = 180_000,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  let quietRounds = 0;
  let last = "";
  for (;;) {
    const states = await Promise.all(
      CONSUMERS.map(async ([stream, name]) => {
        const c = await jsm.consumers.info(stream, name);
        return { name, pending: c.num_pending, ackPending: c.num_ack_pending };
      }),
    );
    last = states.map((s) => `${s.name} pending ${s.pending} unacked ${s.ackPending}`).join(", ");
    quietRounds = states.every((s) => s.pending === 0 && s.ackPending === 0) ? quietRounds + 1 : 0;
    if (quietRounds >= 2) return;
    if (!alive()) throw new Error(`the analytics process is gone; its consumers: ${last}`);
    if (Date.now() > deadline) throw new Error(`analytics did not drain its streams: ${last}`);
    await new Promise((r) => setTimeout(r, 1000));
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
