// A hostile tester's finding: a member may create consumers on its own bucket, and the server does
// not check a consumer's deliver subject. Pointed at another group's watch inbox (visible on the
// monitoring port), it delivered group A's config into group B's service, which applied it. The
// SDK now takes deliveries only from its own consumer on its own bucket.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import {
  credentialOptions,
  ensureConfigBucket,
  ensureStreams,
  groupInboxPrefix,
  wireNames,
} from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { z } from "zod";
import { putConfig } from "../../sdk/test/helpers/put-config";
import { CalloutResponder } from "../src/callout/callout-responder";

const names = wireNames();
const KEYS: Record<string, { group: string; keyId: string }> = {
  "KEY-AAA": { group: "aaa", keyId: "KIDAAA01" },
  "KEY-BBB": { group: "bbb", keyId: "KIDBBB01" },
};

let nats: NatsServer;
let root: NatsConnection;
let adminNc: NatsConnection;
let responder: CalloutResponder;

beforeAll(async () => {
  nats = await startNats();
  root = await connect(nats.clientOptions());
  await ensureStreams(await jetstreamManager(root), names);
  for (const g of ["aaa", "bbb"]) await ensureConfigBucket(root, names, g);
  // Group bbb's bucket is empty: its service's watch is at consumer sequence 0, so a foreign
  // delivery numbered 1 would look like the next one. The names are of equal length, so the
  // foreign subject's key maps cleanly: the worst case.
  await putConfig(root, "aaa", "svc", { owner: "aaa" });
  const a = nats.serviceOptions("admin");
  adminNc = await connect({
    servers: a.servers,
    inboxPrefix: a.inboxPrefix,
    ...credentialOptions(a),
  });
  responder = new CalloutResponder({
    nc: adminNc,
    names,
    issuerSeed: nats.credentials.calloutIssuerSeed,
    verifier: {
      verify: (key) =>
        Promise.resolve(KEYS[key] ? { ok: true, ...KEYS[key] } : { ok: false, reason: "no" }),
    },
    logger: silentLogger,
  });
  responder.start();
  await adminNc.flush();
});

afterAll(async () => {
  await responder?.stop();
  await adminNc?.close();
  await root?.close();
  await nats?.stop();
});

test("a consumer another group points at a service's inbox delivers nothing it applies", async () => {
  const victim = await Konorkestra.connect({
    servers: nats.url,
    tlsCa: nats.clientOptions().tlsCa,
    joinKey: "KEY-BBB",
    group: "bbb",
    nodeId: "victim",
    connectTimeoutMs: 20_000,
    logger: silentLogger,
  });
  const attacker = await connect({
    servers: nats.url,
    tls: nats.clientOptions().tls,
    token: "KEY-AAA",
    inboxPrefix: groupInboxPrefix(names, "aaa"),
  });
  try {
    const cfg = await victim.config("svc", z.object({ owner: z.string() }), {
      default: { owner: "none yet" },
    });
    expect(cfg.value.owner).toBe("none yet");
    // What the attacker read off the monitoring port: the victim's watch inbox.
    const connz = await nats.monitor<{
      connections: { subscriptions_list?: string[]; name?: string }[];
    }>("connz?subs=1");
    const inbox = connz.connections
      .flatMap((c) => c.subscriptions_list ?? [])
      .find((s) => s.startsWith(`${groupInboxPrefix(names, "bbb")}.`) && !/[*>]/.test(s));
    expect(inbox).toBeDefined();
    const jsm = await jetstreamManager(attacker, { checkAPI: false });
    await jsm.consumers.add(`KV_${names.configBucket("aaa")}`, {
      name: "inject",
      deliver_subject: inbox!,
      filter_subject: `$KV.${names.configBucket("aaa")}.svc`,
      deliver_policy: "last_per_subject",
      ack_policy: "none",
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(cfg.value.owner).toBe("none yet");
    // and the service still follows its own group
    await putConfig(root, "bbb", "svc", { owner: "bbb" });
    for (let i = 0; i < 100 && cfg.value.owner !== "bbb"; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(cfg.value.owner).toBe("bbb");
  } finally {
    await attacker.close();
    await victim.close();
  }
});
