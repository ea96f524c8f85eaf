import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { ackBatch } from "../src/ingest/bulk-ack";

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

async function ackState(durable: string): Promise<{ floor: number; pending: number }> {
  const info = await (await jetstreamManager(nc)).consumers.info("S", durable);
  return { floor: info.ack_floor.stream_seq, pending: info.num_ack_pending };
}

test("one raw write acknowledges every message of the batch", async () => {
  const msgs = await fetchAll("raw", 2000);
  expect(msgs).toHaveLength(2000);
  expect(await ackState("raw")).toEqual({ floor: 0, pending: 2000 });
  ackBatch(nc, msgs.slice(0, 1500));
  await nc.flush();
  expect(await ackState("raw")).toEqual({ floor: 1500, pending: 500 });
  ackBatch(nc, msgs.slice(1500));
  await nc.flush();
  expect(await ackState("raw")).toEqual({ floor: 2000, pending: 0 });
});

test("without the protocol handler each message is acked the documented way", async () => {
  const msgs = await fetchAll("fallback", 300);
  const bare = new Proxy(nc, {
    get: (target, prop): unknown => (prop === "protocol" ? undefined : Reflect.get(target, prop)),
  });
  ackBatch(bare, msgs);
  await nc.flush();
  expect(await ackState("fallback")).toEqual({ floor: 300, pending: 0 });
});
