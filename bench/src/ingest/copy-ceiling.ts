import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { BENCH_GROUP, nodeId } from "./bench-fleet";
import type { BenchFleet } from "./bench-fleet";

/** What the ceiling measured. */
export interface CeilingOutcome {
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
}

const TABLE = "heartbeats_ceiling";
const COLUMNS =
  "time, group_name, node_id, seq, sent_at, latency_ms, late, interval_ms, uptime_ms, " +
  "leaving, instance_id, config_set, stream_seq";
const CHUNK = 5000;

/**
 * The ceiling, as `psql \copy` measures it: one client, one COPY (text format, one transaction)
 * of the same rows the ingest stores, straight into a hypertable shaped exactly like
 * `heartbeats` (same columns, unique key and index, 1 h chunks); no NATS, no decoding. The table
 * is dropped and a CHECKPOINT taken afterwards, so the ingest phase does not pay for its writes.
 */
export async function measureCopyCeiling(
  url: string,
  fleet: BenchFleet,
  rows: number,
): Promise<CeilingOutcome> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await c.query(`CREATE TABLE ${TABLE} (LIKE heartbeats INCLUDING ALL)`);
    await c.query(
      `SELECT create_hypertable('${TABLE}', by_range('time', INTERVAL '1 hour'),
                                create_default_indexes => false)`,
    );
    const t0 = performance.now();
    const sink = c.query(copyFrom(`COPY ${TABLE} (${COLUMNS}) FROM STDIN`));
    await pipeline(Readable.from(lines(fleet, rows, Date.now())), sink);
    const seconds = (performance.now() - t0) / 1000;
    await c.query(`DROP TABLE ${TABLE}`);
    await c.query("CHECKPOINT");
    return { rows, seconds, rowsPerSec: rows / seconds };
  } finally {
    await c.end();
  }
}

/** COPY text of `rows` heartbeat rows, in chunks, generated while PostgreSQL consumes them. */
function* lines(fleet: BenchFleet, rows: number, baseMs: number): Generator<string> {
  const configSet = fleet.configSet();
  const iso = (ms: number): string => new Date(ms).toISOString();
  for (let start = 0; start < rows; start += CHUNK) {
    let out = "";
    for (let n = start; n < Math.min(rows, start + CHUNK); n++) {
      const i = n % fleet.nodes;
      const seq = Math.floor(n / fleet.nodes) + 1;
      const time = baseMs + Math.floor(n / 100);
      out +=
        `${iso(time)}\t${BENCH_GROUP}\t${nodeId(i)}\t${seq}\t${iso(time - 1)}\t1\tf\t1000\t` +
        `${seq * 1000}\tf\t${fleet.instanceId(i)}\t${configSet}\t${n + 1}\n`;
    }
    yield out;
  }
}
