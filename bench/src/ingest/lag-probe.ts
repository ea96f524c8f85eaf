import { Client } from "pg";
import { PROBE_GROUP, probeBeat } from "./bench-fleet";

const PROBE_NODES = 10;
const POLL_MS = 10;

/**
 * Lag from publish to row visible, measured from the outside: some heartbeats are probes (nodes
 * of group `probe`); the publisher notes when it handed each to NATS, and a reader polls
 * `heartbeats` every 10 ms (an index range on (group, node, time)) and notes when each probe row
 * first shows. The row was committed at or before the start of that poll, after the start of the
 * previous one: lags are upper bounds, too high by at most the poll period plus one query time.
 */
export class LagProbe {
  private readonly pending = new Map<string, number>();
  private lags: number[] = [];
  private seq = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  private constructor(private readonly client: Client) {}

  /**
   * Connects the reader. Its polls look for probe rows published since the oldest one not found
   * yet, which during a backlog is many seconds of heartbeats: a partial index on the probe rows
   * (an index entry per probe, a predicate check per other row) keeps each poll a look-up now
   * that `heartbeats` has no (group, node, time) index by default (KON_HB_NODE_INDEX).
   */
  static async open(url: string): Promise<LagProbe> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query(
      `CREATE INDEX IF NOT EXISTS bench_probe_rows ON heartbeats (time)
        WHERE group_name = '${PROBE_GROUP}'`,
    );
    return new LagProbe(client);
  }

  /** The next probe heartbeat; its publish time is noted now. */
  next(): { subject: string; data: Uint8Array } {
    const seq = ++this.seq;
    const now = Date.now();
    const p = probeBeat(seq % PROBE_NODES, seq, now);
    this.pending.set(`${p.node}/${seq}`, now);
    return p;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Lags (ms) of the probes seen since the last call; probes still unseen stay pending. */
  take(): number[] {
    const out = this.lags;
    this.lags = [];
    return out;
  }

  get unseen(): number {
    return this.pending.size;
  }

  /** Waits (bounded) until every probe so far was seen. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) await sleep(POLL_MS);
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.client.end();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.pending.size > 0) await this.poll();
      await sleep(POLL_MS);
    }
  }

  private async poll(): Promise<void> {
    // Probes are noted in publish order, so the first pending one is the oldest.
    const oldest = this.pending.values().next().value ?? Date.now();
    const startedAt = Date.now();
    // time is the NATS server's store time (same machine clock), never before the publish.
    const res = await this.client.query<{ node_id: string; seq: string }>(
      `SELECT node_id, seq FROM heartbeats
        WHERE group_name = $1 AND time >= $2`,
      [PROBE_GROUP, new Date(oldest - 1000)],
    );
    for (const r of res.rows) {
      const key = `${r.node_id}/${r.seq}`;
      const at = this.pending.get(key);
      if (at === undefined) continue;
      this.pending.delete(key);
      this.lags.push(startedAt - at);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
