import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { silentLogger } from "@konorkestra/sdk";
import { parseAckSubject, wireReader } from "@konorkestra/sdk/internal";
import { ackBatch } from "../src/ingest/bulk-ack";
import { PullReader } from "../src/ingest/pull-reader";
import type { PullStatus } from "../src/ingest/pull-status";
import { waitFor } from "./helpers/wait-for";

// The batch ack against a real server: every message of the batch is acknowledged (the
// consumer's ack floor moves past it and nothing is pending), through the raw write and through
// the fallback for a connection without nats.js' protocol handler.

let nats: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ ...nats.clientOptions(), name: "bulk-ack-test" });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "S", subjects: ["s.>"] });
  for (let i = 0; i < 2000; i++) nc.publish(`s.${i % 7}`, new Uint8Array([i % 256]));
  await nc.flush();
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

async function fetchAll(durable: string, n: number): Promise<JsMsg[]> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add("S", {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 5000,
  });
  const c = await jetstream(nc).consumers.get("S", durable);
  const out: JsMsg[] = [];
  const iter = await c.fetch({ max_messages: n, expires: 5000 });
  for await (const m of iter) out.push(m);
  return out;
}

// nats.js' JsMsg carries its ack subject as `reply` without declaring it.
const replies = (msgs: readonly JsMsg[]): string[] =>
  msgs.map((m) => (m as unknown as { reply: string }).reply);

async function ackState(durable: string): Promise<{ floor: number; pending: number }> {
  const info = await (await jetstreamManager(nc)).consumers.info("S", durable);
  return { floor: info.ack_floor.stream_seq, pending: info.num_ack_pending };
}

test("one raw write acknowledges every message of the batch", async () => {
  const msgs = await fetchAll("raw", 2000);
  expect(msgs).toHaveLength(2000);
  expect(await ackState("raw")).toEqual({ floor: 0, pending: 2000 });
  ackBatch(nc, replies(msgs.slice(0, 1500)));
  await nc.flush();
  expect(await ackState("raw")).toEqual({ floor: 1500, pending: 500 });
  ackBatch(nc, replies(msgs.slice(1500)));
  await nc.flush();
  expect(await ackState("raw")).toEqual({ floor: 2000, pending: 0 });
});

test("without the raw send each message is acked with a plain publish", async () => {
  const msgs = await fetchAll("fallback", 300);
  // The protocol handler without its raw send: publish still works, the raw write does not.
  const real = (nc as unknown as { protocol: object }).protocol;
  const protocol = new Proxy(real, {
    get: (target, prop): unknown => {
      if (prop === "sendCommand") return undefined;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const bare = new Proxy(nc, {
    get: (target, prop): unknown => (prop === "protocol" ? protocol : Reflect.get(target, prop)),
  });
  ackBatch(bare, replies(msgs));
  await nc.flush();
  expect(await ackState("fallback")).toEqual({ floor: 300, pending: 0 });
});

// The pull reader against a real server: its own pull requests, deliveries tapped off the wire.

interface Got {
  subject: string;
  reply: string;
  msgId: string | undefined;
  data: Uint8Array;
}

async function pullStream(n: number): Promise<Uint8Array[]> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "P", subjects: ["p.>"] });
  const js = jetstream(nc);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    // Sizes from a few bytes to 200 KB, so deliveries span the socket's chunks.
    const size = i % 97 === 0 ? 200_000 : (i * 37) % 700;
    const data = Uint8Array.from({ length: size }, (_, k) => (i + k) % 251);
    sent.push(data);
    if (i % 10 === 0) await js.publish(`p.${i % 5}`, data, { msgID: `id-${i}` });
    else nc.publish(`p.${i % 5}`, data);
  }
  await nc.flush();
  return sent;
}

function reader(
  conn: NatsConnection,
  durable: string,
  got: Got[],
  lost: PullStatus[] = [],
): PullReader {
  return new PullReader({
    nc: conn,
    stream: "P",
    durable,
    batch: 300,
    expiresMs: 3000,
    onMessage: (subject, reply, msgId, data) => got.push({ subject, reply, msgId, data }),
    onConsumerLost: (s) => lost.push(s),
    logger: silentLogger,
  });
}

async function addPullConsumer(durable: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add("P", {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 5000,
  });
}

async function pState(durable: string): Promise<{ floor: number; pending: number }> {
  const info = await (await jetstreamManager(nc)).consumers.info("P", durable);
  return { floor: info.ack_floor.stream_seq, pending: info.num_ack_pending };
}

function expectInOrder(got: readonly Got[], sent: readonly Uint8Array[]): void {
  expect(got).toHaveLength(sent.length);
  got.forEach((g, i) => {
    expect(parseAckSubject(g.reply)?.streamSeq).toBe(i + 1);
    expect(g.subject).toBe(`p.${i % 5}`);
    expect(g.msgId).toBe(i % 10 === 0 ? `id-${i}` : undefined);
    expect(Buffer.from(g.data).equals(Buffer.from(sent[i]!))).toBe(true);
  });
}

describe("pull reader", () => {
  let sent: Uint8Array[];
  beforeAll(async () => {
    sent = await pullStream(1500);
  });

  test("tapped: every message once, whole, with its ack subject and Nats-Msg-Id", async () => {
    await addPullConsumer("tap");
    const got: Got[] = [];
    const r = reader(nc, "tap", got);
    r.start();
    try {
      expect(r.tapped).toBe(true);
      // One framing of the connection's bytes: the sdk's reader is nats.js' parser (a second
      // wrapper replacing protocol.parser on the same connection must never be installed).
      const installed = (nc as unknown as { protocol: { parser: unknown } }).protocol.parser;
      expect(installed).toBe(wireReader(nc));
      // Another tap on the same connection (as the liveness feed has) gets its own messages.
      const side: string[] = [];
      const sideSub = nc.subscribe("side.x", {
        callback: () => {
          side.push("callback");
        },
      });
      const untapSide = wireReader(nc)!.tap(sideSub, (m) => {
        side.push(m.buf.toString("utf8", m.dataStart, m.dataEnd));
        return true;
      });
      nc.publish("side.x", "tapped");
      await waitFor("1500 deliveries", () => got.length >= sent.length);
      await nc.flush();
      expect(side).toEqual(["tapped"]);
      untapSide?.();
      sideSub.unsubscribe();
      // The rest of the connection still works through nats.js: a request, a subscription.
      const sub = nc.subscribe("plain.x", { max: 1 });
      nc.publish("plain.x", "hello");
      for await (const m of sub) expect(m.string()).toBe("hello");
      expectInOrder(got, sent);
      ackBatch(
        nc,
        got.map((g) => g.reply),
      );
      await nc.flush();
      expect(await pState("tap")).toEqual({ floor: sent.length, pending: 0 });
    } finally {
      r.stop();
    }
  });

  test("without nats.js' parser internals the subscription's callback reads the same", async () => {
    await addPullConsumer("untapped");
    const got: Got[] = [];
    const bare = withProtocol((prop) => (prop === "parser" ? null : undefined));
    const r = reader(bare, "untapped", got);
    r.start();
    try {
      expect(r.tapped).toBe(false);
      await waitFor("1500 deliveries", () => got.length >= sent.length);
      expectInOrder(got, sent);
    } finally {
      r.stop();
    }
  });

  test("a deleted consumer is reported; after it is re-created reading resumes", async () => {
    await addPullConsumer("gone");
    const got: Got[] = [];
    const lost: PullStatus[] = [];
    const r = reader(nc, "gone", got, lost);
    r.start();
    try {
      await waitFor("first deliveries", () => got.length >= sent.length);
      await (await jetstreamManager(nc)).consumers.delete("P", "gone");
      await waitFor("consumer lost", () => lost.length > 0);
      expect([409, 503]).toContain(lost[0]!.code);
      await addPullConsumer("gone");
      got.length = 0;
      r.restart();
      await waitFor("redelivered from the start", () => got.length >= sent.length);
      expectInOrder(got, sent);
    } finally {
      r.stop();
    }
  });
});

/** nc whose protocol handler answers `override(prop)` where it is not undefined. */
function withProtocol(override: (prop: string | symbol) => unknown): NatsConnection {
  const real = (nc as unknown as { protocol: object }).protocol;
  const protocol = new Proxy(real, {
    get: (target, prop): unknown => {
      const o = override(prop);
      if (o !== undefined) return o ?? undefined;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return new Proxy(nc, {
    get: (target, prop): unknown => (prop === "protocol" ? protocol : Reflect.get(target, prop)),
  });
}
