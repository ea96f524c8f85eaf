// The floor under analytics' drain (issue 14, item 3): how fast this machine's nats-server hands a
// stored heartbeat backlog to analytics' own reading code when no database write follows. Run by
// `bench:ingest` right after its drain phase, on the same backlog, so drain / floor is a same-run
// ratio; it can also run alone against any server that holds heartbeats:
//
//   KON_SERVERS=... KON_NKEY_SEED_FILE=... [KON_TLS_CA=...] KON_PG_URL=... \
//     node testkit/src/run-ts.cjs analytics/scripts/drain-floor.ts --mode ingest --start-seq 1 --count 200000
//
// Modes, each on a fresh durable consumer that starts at --start-seq and reads --count messages:
//   deliver  AckNone consumer read by analytics' PullReader (its wire tap); each delivery counted.
//            What the server must do for any reader at all: store -> wire.
//   ack      AckExplicit consumer as analytics configures it (max_ack_pending, ack wait), one
//            `+ACK` per message sent in bulk per 5,000 (analytics' replyAll). The JetStream cost
//            of the present design, with no row work.
//   ingest   The real StreamIngester with the real heartbeat decoding (HeartbeatWriter.row:
//            protobuf -> COPY tuple), batches, two writers, BEGIN/COMMIT on PostgreSQL and acks
//            after commit, but a write that stores nothing: analytics minus its database writes.
//
// Protocol with the bench: after connecting and creating the consumer it prints one JSON line
// {"ready":true}, waits for a line on stdin (so the caller measures CPU from there), reads, and
// prints one JSON line with rows, the first and last stream sequence read, seconds, rows_per_s and
// its own CPU µs per row.
import { createInterface } from "node:readline";
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { consoleLogger } from "@konorkestra/sdk";
import {
  connectService,
  natsAuthOf,
  parseAckSubject,
  serviceInboxPrefix,
  taggedLogger,
  wireNames,
} from "@konorkestra/sdk/internal";
import { Pool } from "pg";
import { replyAll } from "../src/ingest/bulk-ack";
import { HeartbeatWriter } from "../src/ingest/heartbeat/heartbeat-writer";
import { PullReader } from "../src/ingest/pull-reader";
import { StreamIngester } from "../src/ingest/stream-ingester";
import type { BatchWriter } from "../src/ingest/batch-writer";
import { AnalyticsMetrics } from "../src/metrics";
import { parseAnalyticsOptions } from "../src/options";
import type { ResolvedAnalyticsOptions } from "../src/options";

const MODES = ["deliver", "ack", "ingest"] as const;
type Mode = (typeof MODES)[number];

interface Args {
  mode: Mode;
  startSeq: number;
  count: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const mode = get("--mode") as Mode | undefined;
  const startSeq = Number(get("--start-seq"));
  const count = Number(get("--count"));
  if (!mode || !MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(", ")}`);
  if (!Number.isInteger(startSeq) || startSeq < 1) throw new Error("--start-seq: an integer >= 1");
  if (!Number.isInteger(count) || count < 1) throw new Error("--count: an integer >= 1");
  return { mode, startSeq, count };
}

const logger = taggedLogger(consoleLogger, "drain-floor");
const out = (o: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(o) + "\n");

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const opts = parseAnalyticsOptions(process.env);
  const names = wireNames(opts.prefix);
  const nc = await connectService({
    ...natsAuthOf(opts),
    servers: opts.servers,
    role: "analytics",
    inboxPrefix: serviceInboxPrefix(names, "analytics"),
  });
  const durable = `drain_floor_${args.mode}_${process.pid}`;
  const stream = names.heartbeatStream;
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: args.mode === "deliver" ? AckPolicy.None : AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: args.startSeq,
    filter_subject: names.heartbeatFilter,
    // As StreamIngester sets it (ignored by AckNone).
    ack_wait: opts.ackWaitMs * 1_000_000,
    max_ack_pending: Math.max(1000, opts.batchRows * (opts.ingestConcurrency + 2)),
  });
  const pool =
    args.mode === "ingest" ? new Pool({ connectionString: opts.pgUrl, max: 4 }) : undefined;
  try {
    out({ ready: true, consumer: durable });
    await nextLine();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const read =
      args.mode === "ingest"
        ? readIngesting(nc, pool!, opts, names.heartbeatFilter, durable, args.count)
        : readBare(nc, stream, durable, args.count, args.mode === "ack", opts.batchRows);
    const { rows, firstSeq, lastSeq } = await read;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    out({
      mode: args.mode,
      rows,
      first_seq: firstSeq,
      last_seq: lastSeq,
      seconds: round(seconds, 3),
      rows_per_s: Math.round(rows / seconds),
      cpu_us_per_row: round((cpu.user + cpu.system) / rows, 1),
    });
  } finally {
    await jsm.consumers.delete(stream, durable).catch(() => undefined);
    await pool?.end();
    await nc.close();
  }
}

/** What a floor read: rows, and the stream sequences of the first and the last. */
interface Read {
  rows: number;
  firstSeq: number;
  lastSeq: number;
}

/** `deliver` and `ack`: analytics' PullReader, counting; acks in bulk every `ackEvery`. */
function readBare(
  nc: NatsConnection,
  stream: string,
  durable: string,
  count: number,
  ack: boolean,
  ackEvery: number,
): Promise<Read> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let firstSeq = 0;
    const seqOf = (reply: string): number => parseAckSubject(reply)?.streamSeq ?? 0;
    let replies: string[] = [];
    const reader = new PullReader({
      nc,
      stream,
      durable,
      batch: Math.max(200, 2 * ackEvery),
      expiresMs: 10_000,
      onMessage: (_subject, reply) => {
        rows++;
        if (rows === 1) firstSeq = seqOf(reply);
        if (ack) {
          replies.push(reply);
          if (replies.length >= ackEvery || rows >= count) {
            replyAll(nc, replies, "+ACK");
            replies = [];
          }
        }
        if (rows === count) {
          reader.stop();
          // The last acks are on the wire once the server answered a round trip after them.
          const lastSeq = seqOf(reply);
          nc.flush().then(() => resolve({ rows, firstSeq, lastSeq }), reject);
        }
      },
      onConsumerLost: (st) => reject(new Error(`consumer lost: ${st.code} ${st.description}`)),
      logger,
    });
    reader.start();
  });
}

/** `ingest`: the real StreamIngester and heartbeat decoding, with a write that stores nothing. */
async function readIngesting(
  nc: NatsConnection,
  pool: Pool,
  opts: ResolvedAnalyticsOptions,
  filterSubject: string,
  durable: string,
  count: number,
): Promise<Read> {
  const real = new HeartbeatWriter(
    wireNames(opts.prefix),
    opts.lateFactor,
    opts.nodeStateResolutionMs,
  );
  let firstSeq = 0;
  let lastSeq = 0;
  const writer: BatchWriter<unknown> = {
    kind: real.kind,
    row: (rec) => {
      if (firstSeq === 0 || rec.streamSeq < firstSeq) firstSeq = rec.streamSeq;
      if (rec.streamSeq > lastSeq) lastSeq = rec.streamSeq;
      return real.row(rec);
    },
    // BEGIN and COMMIT still run (StreamIngester's transaction); nothing is written between.
    write: (_client, rows) => Promise.resolve({ inserted: rows.length }),
  };
  const ingester = new StreamIngester({
    nc,
    pool,
    stream: wireNames(opts.prefix).heartbeatStream,
    durable,
    filterSubject,
    writer,
    batchRows: opts.batchRows,
    batchMs: opts.batchMs,
    concurrency: opts.ingestConcurrency,
    retryMinMs: opts.retryMinMs,
    retryMaxMs: opts.retryMaxMs,
    ackWaitMs: opts.ackWaitMs,
    metrics: new AnalyticsMetrics(),
    logger,
  });
  await ingester.start();
  try {
    for (;;) {
      const { messagesTotal } = ingester.status();
      if (messagesTotal >= count) {
        await nc.flush();
        return { rows: messagesTotal, firstSeq, lastSeq };
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await ingester.stop();
  }
}

function nextLine(): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once("line", () => {
      rl.close();
      resolve();
    });
  });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().catch((err: unknown) => {
  process.stderr.write(`drain-floor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
