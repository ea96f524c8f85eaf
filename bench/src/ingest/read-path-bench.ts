import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import { createRequire } from "node:module";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { silentLogger } from "@konorkestra/sdk";
import { parseAckSubject } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import { treeCpuSeconds } from "./process-cpu";

// The analytics ingest's read path alone, A/B in one process at the same load: N stored messages
// of heartbeat size read by a durable pull consumer through (a) nats.js `consume` with a
// callback (JsMsg per delivery, as analytics read until issue 14) and (b) the PullReader (own pull
// requests, deliveries tapped off the wire); each acked per batch as analytics does after
// COMMIT. No PostgreSQL: CPU µs per message of this process and of nats-server.
//   node testkit/src/run-ts.cjs bench/src/ingest/read-path-bench.ts [messages] [rounds]

/** The parts of analytics' ingest this measures (analytics/src/ingest/{bulk-ack,pull-reader}.ts). */
interface IngestParts {
  ackBatch(nc: NatsConnection, replies: readonly string[]): void;
  PullReader: new (o: {
    nc: NatsConnection;
    stream: string;
    durable: string;
    batch: number;
    expiresMs: number;
    onMessage: (subject: string, reply: string) => void;
    onConsumerLost: (s: { code: number; description: string }) => void;
    logger: Logger;
  }) => { start(): void; stop(): void };
}

// Loaded when run (run-ts transpiles them): a static import would compile analytics' sources
// into the bench package's build, next to them.
const load = createRequire(__filename);
const ingestDir = join(__dirname, "../../../analytics/src/ingest");
const { ackBatch } = load(join(ingestDir, "bulk-ack")) as Pick<IngestParts, "ackBatch">;
const { PullReader } = load(join(ingestDir, "pull-reader")) as Pick<IngestParts, "PullReader">;

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const BATCH = 5000;

type Reader = (nc: NatsConnection, durable: string, done: () => void) => Promise<() => void>;

/** What analytics does with each delivery besides decoding: position, keep the ack subject. */
function sink(onBatch: (replies: string[]) => void): (reply: string) => void {
  let replies: string[] = [];
  return (reply) => {
    if (!parseAckSubject(reply)) throw new Error(`not an ack subject: ${reply}`);
    replies.push(reply);
    if (replies.length >= BATCH) {
      onBatch(replies);
      replies = [];
    }
  };
}

const viaConsume: Reader = async (nc, durable, done) => {
  let n = 0;
  const take = sink((r) => {
    ackBatch(nc, r);
    if ((n += r.length) >= N) done();
  });
  const c = await jetstream(nc).consumers.get("B", durable);
  const msgs = await c.consume({
    max_messages: BATCH,
    callback: (m: JsMsg) => take((m as unknown as { reply: string }).reply),
  });
  return () => msgs.stop();
};

const viaPullReader: Reader = (nc, durable, done) => {
  let n = 0;
  const take = sink((r) => {
    ackBatch(nc, r);
    if ((n += r.length) >= N) done();
  });
  const reader = new PullReader({
    nc,
    stream: "B",
    durable,
    batch: 2 * BATCH,
    expiresMs: 10_000,
    onMessage: (_s, reply) => take(reply),
    onConsumerLost: (s) => console.error(`consumer lost: ${s.code} ${s.description}`),
    logger: silentLogger,
  });
  reader.start();
  return Promise.resolve(() => reader.stop());
};

async function measure(
  nc: NatsConnection,
  serverPid: number,
  name: string,
  read: Reader,
): Promise<string> {
  const durable = `${name}-${Date.now()}`;
  await (
    await jetstreamManager(nc)
  ).consumers.add("B", {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 3 * BATCH,
  });
  const cpu0 = process.cpuUsage();
  const srv0 = treeCpuSeconds(serverPid);
  const t0 = performance.now();
  let stop: () => void = () => undefined;
  await new Promise<void>((resolve) => {
    void read(nc, durable, resolve).then((s) => (stop = s));
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const own = (cpu.user + cpu.system) / N;
  const srv = ((treeCpuSeconds(serverPid) - srv0) * 1e6) / N;
  stop();
  return `${name.padEnd(11)} ${Math.round(N / secs)
    .toString()
    .padStart(7)} msg/s  reader ${own.toFixed(1)} µs/msg  nats-server ${srv.toFixed(1)} µs/msg`;
}

async function main(): Promise<void> {
  const nats = await startNats();
  const nc = await connect({ ...nats.clientOptions(), name: "read-path-bench" });
  try {
    await (await jetstreamManager(nc)).streams.add({ name: "B", subjects: ["b.>"] });
    const payload = new Uint8Array(330).map((_, i) => (i * 7) % 256);
    for (let i = 0; i < N; i++) {
      nc.publish(`b.g.n${i % 10_000}`, payload);
      if (i % 1000 === 999) await nc.flush();
    }
    await nc.flush();
    for (let r = 1; r <= ROUNDS; r++) {
      console.log(`round ${r}: ${await measure(nc, nats.pid, "consume", viaConsume)}`);
      console.log(`round ${r}: ${await measure(nc, nats.pid, "pullreader", viaPullReader)}`);
    }
  } finally {
    await nc.close();
    await nats.stop();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
