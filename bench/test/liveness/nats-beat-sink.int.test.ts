// The simulator's beats on a real nats-server, sent as production nodes send theirs: one TLS
// connection joined with the group's join key through the auth callout (the admin's responder),
// beats in PUB frames of many at once. A subscriber sees each beat on its node's subject, byte
// for byte what the SDK builds.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { startMemberAuth } from "../../src/liveness/member-auth";
import type { MemberAuth } from "../../src/liveness/member-auth";
import { natsBeatSink } from "../../src/liveness/nats-beat-sink";
import { NodeSimulator } from "../../src/liveness/node-simulator";
import { sdkBytesOf } from "./beat-frames";

const names = wireNames("kon");
let nats: NatsServer;
let auth: MemberAuth;
let obs: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  auth = await startMemberAuth(nats, names, "bench");
  obs = await connect(nats.clientOptions());
});

afterAll(async () => {
  await obs?.close();
  await auth?.close();
  await nats?.stop();
});

test("beats in frames reach subscribers on each node's subject, as the SDK encodes them", async () => {
  const got: { subject: string; data: Buffer }[] = [];
  obs.subscribe(names.heartbeatFilter, {
    callback: (_err, msg) => {
      got.push({ subject: msg.subject, data: Buffer.from(msg.data) });
    },
  });
  await obs.flush();
  const nc = await auth.connectMember("test-nodes");
  const sink = natsBeatSink(nc, (node) => names.heartbeatSubject("bench", node));
  expect(sink.frames).toBeDefined();
  const nodeIds = Array.from({ length: 200 }, (_, i) => `n${i}`);
  const sim = new NodeSimulator(sink, { group: "bench", nodeIds, intervalMs: 200 });
  sim.start();
  await new Promise((r) => setTimeout(r, 700));
  sim.close();
  await nc.flush();
  // Delivered a little after the flush on a busy machine: wait for the count to settle.
  for (let i = 0; i < 100 && got.length < sink.sent; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(auth.callouts()).toBe(1);
  expect(got.length).toBe(sink.sent);
  expect(got.length).toBeGreaterThanOrEqual(400);
  for (const m of got) {
    const hb = decodeMessage(Heartbeat, m.data);
    expect(m.subject).toBe(names.heartbeatSubject("bench", hb.nodeId));
    expect(m.data.equals(sdkBytesOf(m.data))).toBe(true);
  }
  await nc.close();
}, 30_000);

test("a connection without the join key is refused", async () => {
  await expect(
    connect({ servers: [nats.url], tls: nats.clientOptions().tls, token: "wrong-key" }),
  ).rejects.toThrow();
});
