import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import type { Msg } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import {
  buildHeartbeat,
  bytesContain,
  parseAckSubject,
  parseAckSubjectBytes,
  wireNames,
  wireReader,
} from "@konorkestra/sdk/internal";
import type { WireMsg } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";

/** CPU per heartbeat delivery of the monitor's KON_HB read path, before and after the tap. */
export interface FeedReadCost {
  readonly deliveries: number;
  /** Messages of another subscription mixed in (the kon_nodes expiry consumer's), per round. */
  readonly others: number;
  readonly rounds: number;
  /** CPU microseconds per feed delivery (the others' share included), best round of each. */
  readonly oldUsPerDelivery: number;
  readonly newUsPerDelivery: number;
}

/** nats.js' protocol handler, as far as the replay uses it (not part of its typed API). */
interface ProtocolLike {
  parser: { parse(buf: Uint8Array): void };
}

const RECORD_BYTES = 512; // nats-server's TLS record size for a client's outbound data
const RECORDS_PER_TURN = 32;
const STREAM = "KON_HB";
const CONSUMER = "kon_monitor_bench";

/**
 * The monitor's heartbeat feed read path, old and new, on one replayed byte stream in this one
 * process. A real connection to a real nats-server provides nats.js' protocol handler and
 * subscriptions; the stream (`deliveries` KON_HB deliveries to the feed's subscription, each
 * `othersEvery`-th followed by a message of another subscription, cut into 512-byte records,
 * joined 32 records per turn as the monitor's connection joins them) is handed to a parser
 * directly:
 * - old: nats.js' parser → `processMsg` → `MsgImpl` → the callback of PullFeed's fallback path
 *   (subject, reply and data read from the Msg, the ack subject parsed from its string);
 * - new: the sdk's `wireReader` → the tap of PullFeed (ack subject read from the bytes, subject
 *   and reply decoded once, payload a view).
 * Both handlers are written out here as PullFeed has them (the bench does not import the
 * monitor); both end in the same sink, whose totals must agree. Rounds alternate old and new so
 * that load from elsewhere falls on both alike; the best round of each is reported.
 */
export async function measureFeedReadCost(
  deliveries = 100_000,
  rounds = 5,
  othersEvery = 3,
): Promise<FeedReadCost> {
  const nats = await startNats();
  try {
    const nc = await connect({ ...nats.clientOptions(), name: "bench-feed-read-cost" });
    const protocol = (nc as unknown as { protocol: ProtocolLike }).protocol;
    // nats.js' own parser class, taken before the reader goes in front of it.
    const NatsParser = protocol.parser.constructor as new (p: unknown) => ProtocolLike["parser"];

    const own = `.${STREAM}.${CONSUMER}.`;
    const ownBytes = Buffer.from(own);
    const total = { n: 0, seq: 0, bytes: 0, chars: 0 };
    const sink = (subject: string, data: Uint8Array, reply: string, seq: number) => {
      total.n += 1;
      total.seq += seq;
      total.bytes += data.length;
      total.chars += subject.length + reply.length;
    };
    let heardMs = 0;
    const oldPath = (err: Error | null, m: Msg) => {
      if (err) return;
      heardMs = Date.now();
      const reply = m.reply;
      const at = reply ? parseAckSubject(reply) : undefined;
      if (at) {
        if (reply!.includes(own)) sink(m.subject, m.data, reply!, at.streamSeq);
        return;
      }
      void m.headers?.code;
    };
    const newPath = (m: WireMsg): boolean => {
      if (m.replyStart < 0) return false;
      const at = parseAckSubjectBytes(m.buf, m.replyStart, m.replyEnd);
      if (!at) return false;
      heardMs = Date.now();
      if (!bytesContain(m.buf, m.replyStart, m.replyEnd, ownBytes)) return true;
      sink(
        m.buf.toString("utf8", m.subjectStart, m.subjectEnd),
        m.buf.subarray(m.dataStart, m.dataEnd),
        m.buf.toString("utf8", m.replyStart, m.replyEnd),
        at.streamSeq,
      );
      return true;
    };
    const feedSub = nc.subscribe(`_INBOX.bench.${randomUUID()}`, { callback: oldPath });
    let othersSeen = 0;
    const otherSub = nc.subscribe(`_INBOX.other.${randomUUID()}`, {
      callback: () => {
        othersSeen += 1;
      },
    });
    await nc.flush();

    const turns = replayTurns(deliveries, othersEvery, feedSub.getID(), otherSub.getID());
    const others = Math.floor(deliveries / othersEvery);
    const oldParser = new NatsParser(protocol);
    const reader = wireReader(nc);
    const untap = reader?.tap(feedSub, newPath);
    if (!reader || !untap) throw new Error("nats.js internals not as expected: no tap");

    const run = (parse: (b: Uint8Array) => void): { us: number; sums: string } => {
      total.n = total.seq = total.bytes = total.chars = 0;
      othersSeen = 0;
      const before = process.cpuUsage();
      for (const turn of turns) parse(Buffer.concat(turn));
      const used = process.cpuUsage(before);
      if (total.n !== deliveries || othersSeen !== others) {
        throw new Error(`replay lost messages: ${total.n}/${deliveries}, ${othersSeen}/${others}`);
      }
      return { us: (used.user + used.system) / deliveries, sums: JSON.stringify(total) };
    };
    const best = { old: Infinity, new: Infinity };
    for (let r = 0; r <= rounds; r++) {
      const o = run((b) => oldParser.parse(b));
      const n = run((b) => reader.parse(b));
      if (o.sums !== n.sums) throw new Error(`old and new disagree: ${o.sums} vs ${n.sums}`);
      if (r === 0) continue; // warm-up
      best.old = Math.min(best.old, o.us);
      best.new = Math.min(best.new, n.us);
    }
    void heardMs;
    untap();
    await nc.close();
    return {
      deliveries,
      others,
      rounds,
      oldUsPerDelivery: best.old,
      newUsPerDelivery: best.new,
    };
  } finally {
    await nats.stop();
  }
}

/** The byte stream a monitor reads at 10,000 nodes, as records grouped into turns. */
function replayTurns(
  deliveries: number,
  othersEvery: number,
  feedSid: number,
  otherSid: number,
): Buffer[][] {
  const names = wireNames("kon");
  const payload = encodeMessage(
    Heartbeat,
    buildHeartbeat(
      {
        group: "bench",
        nodeId: "n0",
        intervalMs: 1000,
        allowedMisses: 3,
        serviceName: "bench-svc",
        serviceVersion: "1.0.0",
        instanceId: randomUUID(),
        meta: { zone: "bench" },
      },
      { seq: 1, sentAtMs: Date.now(), leaving: false, applied: {} },
    ),
  );
  const parts: Buffer[] = [];
  const ns = `${Date.now()}123456`;
  for (let i = 1; i <= deliveries; i++) {
    const subject = names.heartbeatSubject("bench", `n${i % 10_000}`);
    const reply = `$JS.ACK.${STREAM}.${CONSUMER}.1.${i}.${i}.${ns}.${deliveries - i}`;
    parts.push(Buffer.from(`MSG ${subject} ${feedSid} ${reply} ${payload.length}\r\n`));
    parts.push(Buffer.from(payload), Buffer.from("\r\n"));
    if (i % othersEvery === 0) {
      // What the kon_nodes expiry consumer gets for each write: headers only.
      const hdr = "NATS/1.0\r\nNats-TTL: 3\r\n\r\n";
      const ack = `$JS.ACK.KV_kon_nodes.expiry.1.${i}.${i}.${ns}.0`;
      parts.push(
        Buffer.from(
          `HMSG $KV.kon_nodes.bench.n${i} ${otherSid} ${ack} ${hdr.length} ${hdr.length}\r\n${hdr}\r\n`,
        ),
      );
    }
  }
  const all = Buffer.concat(parts);
  const turns: Buffer[][] = [];
  let turn: Buffer[] = [];
  for (let at = 0; at < all.length; at += RECORD_BYTES) {
    // Each record a buffer of its own, as the socket hands them over.
    turn.push(Buffer.from(all.subarray(at, at + RECORD_BYTES)));
    if (turn.length === RECORDS_PER_TURN) {
      turns.push(turn);
      turn = [];
    }
  }
  if (turn.length > 0) turns.push(turn);
  return turns;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} wants a positive integer`);
  return v;
}

// node testkit/src/run-ts.cjs bench/src/liveness/feed-read-cost.ts [--deliveries N] [--rounds R]
if (/feed-read-cost\.[jt]s$/.test(process.argv[1] ?? "")) {
  measureFeedReadCost(arg("deliveries", 100_000), arg("rounds", 5), arg("others-every", 3))
    .then((r) => {
      console.log(JSON.stringify(r));
      console.log(
        `feed read path: old ${r.oldUsPerDelivery.toFixed(2)} us/delivery, ` +
          `new ${r.newUsPerDelivery.toFixed(2)} us/delivery ` +
          `(${(r.oldUsPerDelivery / r.newUsPerDelivery).toFixed(1)}x), ` +
          `${r.deliveries} deliveries + ${r.others} other messages per round, best of ${r.rounds}`,
      );
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
