// The join-key check the monitor's HTTP ingest asks of the admin (docs/wire-contract.md,
// "Join-key check"), against a real NATS server (each side on its own least-privilege
// credential) and PostgreSQL: a key made by the admin API admits to its group; every bad key
// gets the same bare "no"; a revoked key stops admitting; only the monitor may ask.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { credentialOptions, joinKeyVerifySubject, wireNames } from "@konorkestra/sdk/internal";
import { joinKeyServiceExtension } from "../src/callout/join-key-service";
import { AdminHarness } from "./helpers/admin-harness";

const names = wireNames();
const SUBJECT = joinKeyVerifySubject(names);
let h: AdminHarness;
let session: string;
let monitor: NatsConnection;

beforeAll(async () => {
  h = await AdminHarness.start({ extensions: [joinKeyServiceExtension()] });
  session = await h.firstAdmin();
  monitor = await connectAs("monitor");
});
afterAll(async () => {
  await monitor?.close();
  await h?.stop();
});

async function connectAs(role: "monitor" | "analytics"): Promise<NatsConnection> {
  const o = h.nats.serviceOptions(role);
  return connect({ servers: o.servers, inboxPrefix: o.inboxPrefix, ...credentialOptions(o) });
}

async function ask(nc: NatsConnection, body: unknown): Promise<unknown> {
  const data = typeof body === "string" ? body : JSON.stringify(body);
  const m = await nc.request(SUBJECT, data, { timeout: 5000 });
  return JSON.parse(m.string()) as unknown;
}

async function createGroup(name: string): Promise<{ joinKey: string; keyId: string }> {
  const made = await h.http("POST", "/v1/groups", { token: session, body: { name } });
  expect(made.status).toBe(201);
  return made.body as { joinKey: string; keyId: string };
}

test("a key the admin API made admits to its group", async () => {
  const { joinKey } = await createGroup("ingest-a");
  expect(await ask(monitor, { key: joinKey, host: "10.0.0.7" })).toEqual({
    ok: true,
    group: "ingest-a",
  });
});

test("a wrong secret, an unknown key, garbage and a malformed request get the same bare no", async () => {
  const { joinKey } = await createGroup("ingest-b");
  const wrongSecret = joinKey.slice(0, -4) + (joinKey.endsWith("AAAA") ? "BBBB" : "AAAA");
  expect(wrongSecret).not.toBe(joinKey);
  const answers = [
    await ask(monitor, { key: wrongSecret, host: "10.0.0.8" }),
    await ask(monitor, { key: "ZZZZ-ZZZZ-" + "ZZZZ-".repeat(6) + "ZZZZ", host: "10.0.0.8" }),
    await ask(monitor, { key: "not a key", host: "10.0.0.8" }),
    await ask(monitor, "{not json"),
    await ask(monitor, { key: 42 }),
  ];
  for (const a of answers) expect(a).toEqual({ ok: false });
});

test("a revoked key stops admitting", async () => {
  const { joinKey, keyId } = await createGroup("ingest-c");
  expect(await ask(monitor, { key: joinKey, host: "10.0.0.9" })).toMatchObject({ ok: true });
  const revoked = await h.http("DELETE", `/v1/groups/ingest-c/join-keys/${keyId}`, {
    token: session,
  });
  expect(revoked.status).toBe(204);
  expect(await ask(monitor, { key: joinKey, host: "10.0.0.9" })).toEqual({ ok: false });
});

test("only the monitor's credential may ask: analytics is refused by the server", async () => {
  const analytics = await connectAs("analytics");
  try {
    await expect(
      analytics.request(SUBJECT, JSON.stringify({ key: "x", host: "y" }), { timeout: 2000 }),
    ).rejects.toThrow(/permission|timeout|no responders/i);
  } finally {
    await analytics.close();
  }
});
