// The prepare round under the real rights: the loader with its own credential, members joined
// through the auth callout (the admin's responder with a fixed verifier, as in the admin's tests),
// whose user JWT carries groupMemberPermissions. A member votes in its own group's round and can
// neither listen to nor vote in another group's.
import { createHash } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import {
  credentialOptions,
  ensureConfigBucket,
  ensureStreams,
  groupInboxPrefix,
  prepareReplyPrefix,
  wireNames,
} from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { z } from "zod";
import { CalloutResponder } from "../../admin/src/callout/callout-responder";
import { putConfig } from "../../sdk/test/helpers/put-config";
import { recordingLogger } from "../../sdk/test/helpers/wait-for";
import { PrepareCoordinator } from "../src/prepare-coordinator";

const names = wireNames();
const KEYS: Record<string, { group: string; keyId: string }> = {
  "KEY-AAA": { group: "aaa", keyId: "KIDAAA01" },
  "KEY-BBB": { group: "bbb", keyId: "KIDBBB01" },
};

let nats: NatsServer;
let root: NatsConnection;
let adminNc: NatsConnection;
let loaderNc: NatsConnection;
let responder: CalloutResponder;

beforeAll(async () => {
  nats = await startNats();
  root = await connect(nats.clientOptions());
  await ensureStreams(await jetstreamManager(root), names);
  for (const g of ["aaa", "bbb"]) await ensureConfigBucket(root, names, g);
  await putConfig(root, "aaa", "svc", { n: 1 });
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
  const l = nats.serviceOptions("config-loader");
  loaderNc = await connect({
    servers: l.servers,
    inboxPrefix: l.inboxPrefix,
    ...credentialOptions(l),
  });
});

afterAll(async () => {
  await loaderNc?.close();
  await responder?.stop();
  await adminNc?.close();
  await root?.close();
  await nats?.stop();
});

function candidate(n: number): { key: string; payload: Buffer; sha256: string } {
  const payload = Buffer.from(JSON.stringify({ n }));
  return { key: "svc", payload, sha256: createHash("sha256").update(payload).digest("hex") };
}

test("a member votes in its group's round (yes, and no with its schema error)", async () => {
  const member = await Konorkestra.connect({
    servers: nats.url,
    tlsCa: nats.clientOptions().tlsCa,
    joinKey: "KEY-AAA",
    group: "aaa",
    nodeId: "member-a",
    connectTimeoutMs: 20_000,
    logger: silentLogger,
  });
  try {
    await member.config("svc", z.object({ n: z.number().max(5) }));
    // What the liveness monitor would have recorded for it (the monitor itself runs in
    // strong-prepare.int.test.ts; this file is about rights).
    const nodesKv = await new Kvm(root).create(names.nodesBucket, { history: 1 });
    await nodesKv.put(
      "aaa.member-a",
      encodeMessage(Heartbeat, {
        group: "aaa",
        nodeId: "member-a",
        config: { svc: { revision: 1 } },
      }),
    );
    const coordinator = new PrepareCoordinator(loaderNc, names, "loader-test", silentLogger);
    const yes = await coordinator.prepare("aaa", [candidate(2)], 1000);
    expect(yes.voters).toEqual(["member-a"]);
    expect(yes.ok).toBe(true);
    expect(yes.yes).toEqual(["member-a"]);
    const no = await coordinator.prepare("aaa", [candidate(9)], 1000);
    expect(no.ok).toBe(false);
    expect(no.refused[0]?.node).toBe("member-a");
    expect(no.refused[0]?.error.reason).toContain("config svc");
  } finally {
    await member.close();
  }
});

test("a member of another group can neither listen to a round nor vote in it", async () => {
  const other = await connect({
    servers: nats.url,
    tls: nats.clientOptions().tls,
    token: "KEY-BBB",
    inboxPrefix: groupInboxPrefix(names, "bbb"),
  });
  const errors: string[] = [];
  void (async () => {
    for await (const s of other.status()) if (s.type === "error") errors.push(String(s.error));
  })();
  try {
    other.subscribe(names.prepareSubject("aaa"));
    other.publish(`${prepareReplyPrefix(names, "aaa")}.prep-forged`, new Uint8Array([1]));
    await other.flush();
    await new Promise((r) => setTimeout(r, 500));
    expect(errors.join("\n")).toMatch(/Permissions Violation for Subscription to "kon\.prep\.aaa"/);
    expect(errors.join("\n")).toMatch(
      /Permissions Violation for Publish to "_kon_in\.s\.config-loader\.prep\.aaa\./,
    );
  } finally {
    await other.close();
  }
});

test("H8: another group's bucket pushed onto the prepare subject is ignored, not voted on", async () => {
  await putConfig(root, "bbb", "x", { from: "bbb" });
  await putConfig(root, "bbb", "y", { from: "bbb" });
  const log = recordingLogger();
  const member = await Konorkestra.connect({
    servers: nats.url,
    tlsCa: nats.clientOptions().tlsCa,
    joinKey: "KEY-AAA",
    group: "aaa",
    nodeId: "member-h8",
    connectTimeoutMs: 20_000,
    logger: log,
  });
  const other = await connect({
    servers: nats.url,
    tls: nats.clientOptions().tls,
    token: "KEY-BBB",
    inboxPrefix: groupInboxPrefix(names, "bbb"),
  });
  const stream = `KV_${names.configBucket("bbb")}`;
  try {
    await member.config("svc", z.object({ n: z.number() }));
    // What the finding did: a push consumer on bbb's own bucket delivering to aaa's prepares.
    const created = JSON.parse(
      new TextDecoder().decode(
        (
          await other.request(
            `$JS.API.CONSUMER.CREATE.${stream}`,
            JSON.stringify({
              stream_name: stream,
              config: {
                deliver_subject: names.prepareSubject("aaa"),
                ack_policy: "none",
                deliver_policy: "all",
              },
            }),
          )
        ).data,
      ),
    ) as { name?: string; error?: unknown };
    expect(created.error).toBeUndefined();
    const deadline = Date.now() + 5000;
    while (!log.lines.some((l) => l.includes("ignored")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const said = log.lines.join("\n");
    expect(said).toMatch(
      /ignored \d+ message\(s\) on kon\.prep\.aaa that are not the config-loader's prepare requests/,
    );
    expect(said).toMatch(/\$JS\.ACK\./);
    expect(said).not.toMatch(/cannot answer prepare|voting no/);
    await other.request(`$JS.API.CONSUMER.DELETE.${stream}.${created.name}`, "");
    // The loader's own rounds are still answered.
    const coordinator = new PrepareCoordinator(loaderNc, names, "loader-test", silentLogger);
    const nodesKv = await new Kvm(root).create(names.nodesBucket, { history: 1 });
    await nodesKv.put(
      "aaa.member-h8",
      encodeMessage(Heartbeat, {
        group: "aaa",
        nodeId: "member-h8",
        config: { svc: { revision: 1 } },
      }),
    );
    const yes = await coordinator.prepare("aaa", [candidate(3)], 2000);
    expect(yes.yes).toContain("member-h8");
    await nodesKv.delete("aaa.member-h8");
  } finally {
    await other.close();
    await member.close();
  }
});
