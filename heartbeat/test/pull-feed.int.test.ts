import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { headers } from "@nats-io/transport-node";
import { coalesceReads } from "../src/coalesce-reads";
import { PullFeed } from "../src/pull-feed";
import type { AckPosition } from "../src/pull-feed";

const STREAM = "FEED";

interface Seen {
  subject: string;
  data: Uint8Array;
  at: AckPosition;
}

/** A feed on durable consumer `name` that records what it is handed. */
function openFeed(
  nc: NatsConnection,
  jsm: JetStreamManager,
  name: string,
  maxMessages = 10,
  pollMs = 0,
) {
  const seen: Seen[] = [];
  const behind: string[] = [];
  let ensured = 0;
  const ensure = async () => {
    ensured += 1;
    try {
      await jsm.consumers.info(STREAM, name);
    } catch {
      await addConsumer(jsm, name);
    }
  };
  const feed = new PullFeed(
    nc,
    STREAM,
    name,
    {
      maxMessages,
      refillBelow: Math.ceil(maxMessages / 2),
      expiresMs: 1000,
      idleHeartbeatMs: 500,
      pollMs,
    },
    {
      message: (subject, data, reply, at) => {
        seen.push({ subject, data: Uint8Array.from(data), at });
        feed.ack(reply);
      },
      behind: (reason) => behind.push(reason),
      ensureConsumer: ensure,
    },
    silentLogger,
  );
  return { feed, seen, behind, ensured: () => ensured };
}

function addConsumer(jsm: JetStreamManager, name: string) {
  return jsm.consumers.add(STREAM, {
    durable_name: name,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
  });
}

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stream sequences from index `from` of what a feed was handed. */
const seqs = (seen: Seen[], from = 0) => seen.slice(from).map((s) => s.at.streamSeq);
const range = (first: number, last: number) =>
  [...Array(last - first + 1).keys()].map((i) => i + first);

/** After a server restart: until this client has reconnected and JetStream answers. */
async function jetStreamBack(jsm: JetStreamManager): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await jsm.streams.info(STREAM);
      return;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function publish(nc: NatsConnection, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) nc.publish(`feed.n${i}`, new Uint8Array([i % 256]));
  await nc.flush();
}

// The monitor's KON_HB reader: pull requests on a core subscription, statuses handled by hand.
describe("PullFeed", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({
      ...nats.clientOptions(),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ["feed.>"] });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("hands over every message in order, with stream position, time and pending", async () => {
    await publish(nc, 0, 45); // more than one batch of 10
    await addConsumer(jsm, "a");
    const f = openFeed(nc, jsm, "a");
    const t0 = Date.now();
    f.feed.start();
    await until(() => f.seen.length === 45);
    expect(f.seen.map((s) => s.at.streamSeq)).toEqual([...Array(45).keys()].map((i) => i + 1));
    expect(f.seen[0]!.subject).toBe("feed.n0");
    expect(f.seen[44]!.at.pending).toBe(0);
    expect(f.seen[0]!.at.pending).toBe(44);
    expect(Math.abs(f.seen[0]!.at.timeMs - t0)).toBeLessThan(10_000);
    // The acks (AckAll of each message) reached the server.
    await until(() => f.seen.length === 45);
    await new Promise((r) => setTimeout(r, 200));
    const info = await jsm.consumers.info(STREAM, "a");
    expect(info.ack_floor.stream_seq).toBe(45);
    expect(info.num_ack_pending).toBe(0);
    f.feed.stop();
  });

  it("asks again after its requests expire (408), so later messages still come", async () => {
    await addConsumer(jsm, "b");
    const f = openFeed(nc, jsm, "b");
    f.feed.start();
    await until(() => f.seen.length === 45);
    // Requests live 1 s: wait for them to expire and be replaced, then publish more.
    await new Promise((r) => setTimeout(r, 2500));
    await publish(nc, 45, 5);
    await until(() => f.seen.length === 50);
    expect(f.seen[49]!.at.streamSeq).toBe(50);
    expect(f.behind).toEqual([]);
    f.feed.stop();
  });

  it("re-creates a deleted consumer and goes on reading", async () => {
    await addConsumer(jsm, "c");
    const f = openFeed(nc, jsm, "c");
    f.feed.start();
    await until(() => f.seen.length === 50);
    await jsm.consumers.delete(STREAM, "c");
    await until(() => f.behind.length > 0);
    expect(f.ensured()).toBeGreaterThan(0);
    await until(() => f.ensured() > 0 && f.behind.length > 0);
    // The re-created consumer (deliver all) starts from the stream's first message again.
    await publish(nc, 50, 1);
    await until(() => f.seen.some((s) => s.subject === "feed.n50"));
    f.feed.stop();
  });

  it("polls (no_wait batches): every message in order, none lost or doubled", async () => {
    await addConsumer(jsm, "p");
    // 51 messages wait: batches of 10 come back full and are asked for again at once.
    const f = openFeed(nc, jsm, "p", 10, 20);
    f.feed.start();
    await until(() => f.seen.length === 51);
    expect(seqs(f.seen)).toEqual(range(1, 51));
    // Drained: later messages come with the next polls.
    await publish(nc, 51, 25);
    await until(() => f.seen.length === 76);
    await new Promise((r) => setTimeout(r, 200)); // a few more polls find nothing new
    expect(seqs(f.seen)).toEqual(range(1, 76));
    expect(f.behind).toEqual([]);
    const info = await jsm.consumers.info(STREAM, "p");
    expect(info.ack_floor.stream_seq).toBe(76);
    f.feed.stop();
  });

  it("polls across a deleted consumer and a server restart, in order and without gaps", async () => {
    await addConsumer(jsm, "q");
    const f = openFeed(nc, jsm, "q", 10, 20);
    f.feed.start();
    await until(() => f.seen.length === 76);
    await jsm.consumers.delete(STREAM, "q");
    await until(() => f.behind.length > 0 && f.ensured() > 0);
    // The re-created consumer (deliver all) reads the stream again from its first message.
    await until(() => f.seen.length === 152);
    expect(seqs(f.seen, 76)).toEqual(range(1, 76));

    await nats.shutdown();
    await nats.restart();
    await jetStreamBack(jsm);
    await publish(nc, 76, 30);
    await until(() => f.seen.length === 182, 15_000);
    // After the reconnect the polls resume where the acks left off: 77.. follow 76 directly.
    expect(seqs(f.seen, 152)).toEqual(range(77, 106));
    f.feed.stop();
  });

  it("reads deliveries from the bytes as the stream holds them, with or without headers", async () => {
    // A connection as the monitor's: reads joined per event-loop turn, the feed tapping them.
    const mc = await connect(nats.clientOptions());
    const problems: unknown[] = [];
    expect(coalesceReads(mc, (err) => problems.push(err))).toBe(true);
    await jsm.streams.add({ name: "TAPPED", subjects: ["tap.>"] });
    const js = jetstream(nc);
    const sent: { seq: number; subject: string }[] = [];
    for (let i = 0; i < 300; i++) {
      const subject = i % 7 === 0 ? `tap.nœud-${i}` : `tap.n${i}`;
      const h = i % 2 === 0 ? headers() : undefined;
      h?.set("X-Beat", String(i));
      const ack = await js.publish(subject, new Uint8Array(i % 50).fill(i % 256), { headers: h });
      sent.push({ seq: ack.seq, subject });
    }
    await jsm.consumers.add("TAPPED", { durable_name: "t", ack_policy: AckPolicy.All });
    const seen: Seen[] = [];
    const feed = new PullFeed(
      mc,
      "TAPPED",
      "t",
      { maxMessages: 64, refillBelow: 32, expiresMs: 1000, idleHeartbeatMs: 500 },
      {
        message: (subject, data, reply, at) => {
          seen.push({ subject, data: Uint8Array.from(data), at });
          feed.ack(reply);
        },
        behind: (reason) => problems.push(reason),
        ensureConsumer: () => Promise.resolve(),
      },
      silentLogger,
    );
    feed.start();
    expect(feed.tapped).toBe(true);
    await until(() => seen.length === 300);
    // Requests expire (408) and are replaced through nats.js' own path: later messages still come.
    await new Promise((r) => setTimeout(r, 2500));
    const late = await js.publish("tap.late", new Uint8Array([1]));
    await until(() => seen.length === 301);
    expect(seen[300]).toMatchObject({ subject: "tap.late", at: { streamSeq: late.seq } });
    for (const [i, s] of seen.slice(0, 300).entries()) {
      const stored = await jsm.streams.getMessage("TAPPED", { seq: sent[i]!.seq });
      expect({ subject: s.subject, seq: s.at.streamSeq, data: Buffer.from(s.data) }).toEqual({
        subject: sent[i]!.subject,
        seq: sent[i]!.seq,
        data: Buffer.from(stored!.data),
      });
      expect(s.at.timeMs).toBe(stored!.timestamp ? Date.parse(stored!.timestamp) : -1);
      expect(s.at.pending).toBe(299 - i);
    }
    expect(problems).toEqual([]);
    feed.stop();
    await mc.close();
  });
});
