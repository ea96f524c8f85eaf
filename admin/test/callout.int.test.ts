import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import {
  CONFIG_CONSUMER_MAX_INACTIVE_MS,
  credentialOptions,
  ensureConfigBucket,
  ensureSchemasBucket,
  ensureStreams,
  groupInboxPrefix,
  wireNames,
} from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { CalloutResponder } from "../src/callout/callout-responder";
import type { JoinKeyVerdict, JoinKeyVerifier } from "../src/callout/callout-responder";
import { ConnectionKicker } from "../src/callout/connection-kicker";

const names = wireNames();
/** How the server says no to a publish or an API request outside the member's rights. */
const DENIED = /permissions violation/i;

/** Keys by value; the admin service's argon2 store answers the same question in production. */
class KeyTable implements JoinKeyVerifier {
  readonly keys = new Map<string, { group: string; keyId: string }>();
  verify(key: string): Promise<JoinKeyVerdict> {
    const hit = this.keys.get(key);
    return Promise.resolve(hit ? { ok: true, ...hit } : { ok: false, reason: "unknown key" });
  }
}

describe("auth callout: group members get their group's rights and nothing more", () => {
  let nats: NatsServer;
  let root: NatsConnection;
  let adminNc: NatsConnection;
  let sysNc: NatsConnection;
  let responder: CalloutResponder;
  const table = new KeyTable();
  const open: NatsConnection[] = [];

  const member = async (key: string, group: string): Promise<NatsConnection> => {
    const nc = await connect({
      servers: nats.url,
      tls: nats.clientOptions().tls,
      token: key,
      inboxPrefix: groupInboxPrefix(names, group),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    nats = await startNats();
    root = await connect(nats.clientOptions());
    await ensureStreams(await jetstreamManager(root), names);
    for (const g of ["a", "b"]) {
      const kv = await ensureConfigBucket(root, names, g);
      await kv.put("svc", JSON.stringify({ secret: `${g}-password` }));
    }
    await ensureSchemasBucket(root, names);
    await new Kvm(root).create(names.monitorsBucket, { history: 1 });
    const admin = nats.serviceOptions("admin");
    adminNc = await connect({
      servers: admin.servers,
      inboxPrefix: admin.inboxPrefix,
      ...credentialOptions(admin),
    });
    sysNc = await connect({ servers: nats.url, ...credentialOptions(nats.systemOptions()) });
    table.keys.set("KEY-A", { group: "a", keyId: "KIDA0001" });
    table.keys.set("KEY-B", { group: "b", keyId: "KIDB0001" });
    responder = new CalloutResponder({
      nc: adminNc,
      names,
      issuerSeed: nats.credentials.calloutIssuerSeed,
      verifier: table,
      logger: silentLogger,
    });
    responder.start();
    await adminNc.flush();
  });

  afterAll(async () => {
    for (const nc of open) await nc.close().catch(() => undefined);
    await responder?.stop();
    await adminNc?.close();
    await sysNc?.close();
    await root?.close();
    await nats?.stop();
  });

  it("refuses a connection without credentials and one with a wrong key", async () => {
    await expect(connect({ servers: nats.url, tls: nats.clientOptions().tls })).rejects.toThrow(
      /Authorization Violation/,
    );
    await expect(
      connect({ servers: nats.url, tls: nats.clientOptions().tls, token: "KEY-X" }),
    ).rejects.toThrow(/Authorization Violation/);
    expect(responder.counts.refused).toBeGreaterThanOrEqual(2);
  });

  it("lets a member read its bucket, beat and report under its group", async () => {
    const nc = await member("KEY-A", "a");
    const kv = await new Kvm(nc).open(names.configBucket("a"));
    expect((await kv.get("svc"))?.string()).toContain("a-password");
    const watch = await kv.watch();
    const first = await watch[Symbol.asyncIterator]().next();
    expect(first.done ? undefined : first.value.key).toBe("svc");
    watch.stop();

    const hb = root.subscribe("kon.hb.a.>", { max: 1 });
    await root.flush();
    nc.publish("kon.hb.a.node1", "beat");
    for await (const m of hb) expect(m.subject).toBe("kon.hb.a.node1");
    const ack = await jetstream(nc).publish("kon.evt.a.config.applied", "x");
    expect(ack.stream).toBe(names.eventStream);
    const schemas = await new Kvm(nc).open(names.schemasBucket);
    await schemas.put("a.svc", JSON.stringify({ schema: {} }));
  });

  it("refuses everything outside the member's group", async () => {
    const nc = await member("KEY-A", "a");
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    const kvm = new Kvm(nc);
    // another group's config: neither readable nor watchable
    await expect(kvm.open(names.configBucket("b")).then((kv) => kv.get("svc"))).rejects.toThrow(
      DENIED,
    );
    // no config writes, own bucket included
    const own = await kvm.open(names.configBucket("a"));
    await expect(own.put("svc", "{}")).rejects.toThrow(DENIED);
    await expect(jetstream(nc).publish(`$KV.${names.configBucket("b")}.svc`, "{}")).rejects.toThrow(
      DENIED,
    );
    // no liveness leases, no stream deletion or purge, no consumer on the events stream
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await expect(jsm.streams.delete(names.eventStream)).rejects.toThrow(DENIED);
    await expect(jsm.streams.purge(names.configBucket("a").replace(/^/, "KV_"))).rejects.toThrow(
      DENIED,
    );
    await expect(jsm.consumers.add(names.eventStream, { durable_name: "spy" })).rejects.toThrow(
      DENIED,
    );
    await expect(jetstream(nc).publish(`$KV.${names.monitorsBucket}.m1`, "x")).rejects.toThrow(
      DENIED,
    );
    await expect(jetstream(nc).publish(`$KV.${names.schemasBucket}.b.svc`, "x")).rejects.toThrow(
      DENIED,
    );
    // a put under its own schema keys may not roll up (wipe) every group's records
    const h = headers();
    h.set("Nats-Rollup", "all");
    await expect(
      jetstream(nc).publish(`$KV.${names.schemasBucket}.a.svc`, "x", { headers: h }),
    ).rejects.toThrow(/rollup/i);

    // another group's heartbeats and events are dropped by the server
    const seen: string[] = [];
    const spy = root.subscribe("kon.>", { callback: (_e, m) => void seen.push(m.subject) });
    nc.publish("kon.hb.b.x", "forged");
    nc.publish("kon.evt.b.node.down", "forged");
    nc.publish("kon.evt.a.node.down", "forged");
    await nc.flush();
    await root.flush();
    await new Promise((r) => setTimeout(r, 200));
    spy.unsubscribe();
    expect(seen).toEqual([]);
    expect(errors.some((e) => /Permissions Violation/i.test(e))).toBe(true);
  });

  it("lets no consumer a member makes outlive ten minutes without interest", async () => {
    const nc = await member("KEY-A", "a");
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    // CONSUMER.CREATE with a durable name is allowed by subject; the stream's limit bounds it.
    const ci = await jsm.consumers.add(`KV_${names.configBucket("a")}`, {
      durable_name: "left-behind",
      ack_policy: AckPolicy.None,
    });
    expect(ci.config.inactive_threshold).toBe(CONFIG_CONSUMER_MAX_INACTIVE_MS * 1_000_000);
  });

  it("renews a member's short-lived JWT by reconnecting, checking the key again", async () => {
    const shortLived = new CalloutResponder({
      nc: adminNc,
      names,
      issuerSeed: nats.credentials.calloutIssuerSeed,
      verifier: table,
      userTtlMs: 2000,
      logger: silentLogger,
    });
    // Take over the requests: the shared responder leaves the queue group for this test.
    await responder.stop();
    shortLived.start();
    await adminNc.flush();
    try {
      const nc = await member("KEY-A", "a");
      let reconnects = 0;
      void (async () => {
        for await (const s of nc.status()) if (s.type === "reconnect") reconnects++;
      })();
      const kv = await new Kvm(nc).open(names.configBucket("a"));
      await new Promise((r) => setTimeout(r, 4500));
      expect(reconnects).toBeGreaterThanOrEqual(1); // expired, came back through the callout
      expect((await kv.get("svc"))?.string()).toContain("a-password");
      expect(shortLived.counts.admitted).toBeGreaterThanOrEqual(2);
    } finally {
      await shortLived.stop();
      responder.start();
      await adminNc.flush();
    }
  });

  it("kicks a revoked key's live connections, and the key no longer gets in", async () => {
    const nc = await member("KEY-B", "b");
    const closed = nc.closed();
    let disconnected = false;
    void (async () => {
      for await (const s of nc.status()) if (s.type === "disconnect") disconnected = true;
    })();
    table.keys.delete("KEY-B");
    const started = Date.now();
    const kicked = await new ConnectionKicker(sysNc, silentLogger).kickKey("b", "KIDB0001");
    expect(kicked).toBe(1);
    for (let i = 0; i < 50 && !disconnected; i++) await new Promise((r) => setTimeout(r, 100));
    expect(disconnected).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    await nc.close();
    await closed;
    await expect(
      connect({ servers: nats.url, tls: nats.clientOptions().tls, token: "KEY-B" }),
    ).rejects.toThrow(/Authorization Violation/);
  });
});
