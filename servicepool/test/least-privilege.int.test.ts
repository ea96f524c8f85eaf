// The whole plane on its least-privilege credentials: the loader, the monitor and analytics each
// connect with their own nkey (the rights of sdk/internal wire/permissions), and a service joins
// its group with a join key through the auth callout. What each may not do is refused by the
// server, not by the client.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import { credentialOptions, wireNames } from "@konorkestra/sdk/internal";
import type { SystemRole } from "@konorkestra/sdk/internal";
import {
  getFreePort,
  sharedTestTokens,
  spawnTs,
  startNats,
  startPostgres,
} from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { z } from "zod";
import { CalloutResponder } from "@konorkestra/admin";
import { eventually } from "./helpers/config-plane";

const names = wireNames();
const GROUP = "lp";
const KEY = "LPKEY-0001";
const DENIED = /permissions violation/i;

const LOADER = join(__dirname, "../../config-loader/src/main.ts");
const MONITOR = join(__dirname, "../../heartbeat/src/main.ts");
const ANALYTICS = join(__dirname, "../../analytics/src/main.ts");

let nats: NatsServer;
let pg: PostgresDatabase;
let root: string;
let analyticsPort: number;
let adminNc: NatsConnection;
let responder: CalloutResponder;
const children: ChildProcess[] = [];
const logs = new Map<string, string>();

function spawnService(name: string, main: string, env: Record<string, string>): void {
  const child = spawnTs(main, [], { env: { ...process.env, ...env } });
  logs.set(name, "");
  const keep = (d: Buffer): void =>
    void logs.set(name, (logs.get(name)! + d.toString()).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  children.push(child);
}

async function asRole(role: SystemRole): Promise<NatsConnection> {
  const o = nats.serviceOptions(role);
  return connect({ servers: o.servers, inboxPrefix: o.inboxPrefix, ...credentialOptions(o) });
}

beforeAll(async () => {
  nats = await startNats();
  pg = await startPostgres();
  root = mkdtempSync(join(tmpdir(), "kon-lp-"));
  mkdirSync(join(root, GROUP));
  writeFileSync(join(root, GROUP, "app.yaml"), "greeting: hello\n");
  adminNc = await asRole("admin");
  responder = new CalloutResponder({
    nc: adminNc,
    names,
    issuerSeed: nats.credentials.calloutIssuerSeed,
    verifier: {
      verify: (key) =>
        Promise.resolve(
          key === KEY ? { ok: true, group: GROUP, keyId: "LPKEY" } : { ok: false, reason: "no" },
        ),
    },
    logger: silentLogger,
  });
  responder.start();
  await adminNc.flush();
  spawnService("config-loader", LOADER, {
    ...nats.serviceEnv("config-loader"),
    KON_CONFIG_DIR: root,
    KON_LOADER_PORT: "0",
    KON_RESYNC_MS: "0",
    KON_GIT: "0",
  });
  spawnService("monitor", MONITOR, {
    ...nats.serviceEnv("monitor"),
    KON_MONITOR_PORT: String(await getFreePort()),
    KON_MONITOR_ID: "lp",
  });
  analyticsPort = await getFreePort();
  spawnService("analytics", ANALYTICS, {
    ...nats.serviceEnv("analytics"),
    KON_AUTH_PUBLIC_KEY_FILE: sharedTestTokens().publicKeyFile,
    KON_PG_URL: pg.url,
    KON_ANALYTICS_PORT: String(analyticsPort),
    KON_INGEST_BATCH_MS: "50",
  });
});

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.pid) {
      const exited = new Promise((r) => c.once("exit", r));
      process.kill(c.pid, "SIGTERM");
      await exited;
    }
  }
  await responder?.stop();
  await adminNc?.close();
  await pg?.stop();
  await nats?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Waits until the loader (on its own credential) has published `key` of the group. */
async function waitPublished(key: string): Promise<void> {
  const nc = await connect(nats.clientOptions());
  try {
    await eventually(
      `loader publishes ${key}`,
      async () => {
        const kv = await new Kvm(nc).open(names.configBucket(GROUP)).catch(() => undefined);
        return (await kv?.get(key).catch(() => null))?.operation ?? "none";
      },
      (op) => op === "PUT",
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${[...logs].map(([k, v]) => `== ${k}\n${v}`).join("\n")}`);
    });
  } finally {
    await nc.close();
  }
}

test("a member joins with its key and the plane runs on least-privilege credentials", async () => {
  await waitPublished("app");
  const kon = await Konorkestra.connect({
    servers: nats.url,
    tlsCa: nats.clientOptions().tlsCa,
    joinKey: KEY,
    group: GROUP,
    nodeId: "n1",
    snapshotDir: join(root, ".state"),
    // The machine may be busy: a TLS handshake plus the callout's round trip.
    connectTimeoutMs: 20_000,
    logger: silentLogger,
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${[...logs].map(([k, v]) => `== ${k}\n${v}`).join("\n")}`);
  });
  try {
    const cfg = await kon.config("app", z.object({ greeting: z.string() }));
    expect(cfg.value.greeting).toBe("hello");

    // heartbeats through the monitor (monitor credential) become node.up in KON_EVENTS
    const reader = await connect(nats.clientOptions());
    const seen: string[] = [];
    const sub = reader.subscribe(`kon.evt.${GROUP}.node.>`, {
      callback: (_e, m) => void seen.push(m.subject),
    });
    await reader.flush();
    kon.heartbeat({ intervalMs: 500 });
    await eventually(
      "node.up",
      () => Promise.resolve(seen),
      (s) => s.includes(`kon.evt.${GROUP}.node.up`),
      15_000,
    );
    sub.unsubscribe();
    await reader.close();

    // analytics (consume-only credential) is healthy: its durable consumers are bound
    await eventually(
      "analytics healthy",
      () =>
        fetch(`http://127.0.0.1:${analyticsPort}/healthz`).then(
          (r) => r.status,
          () => 0,
        ),
      (status) => status === 200,
      30_000,
    );

    // a change to the file reaches the member (loader credential writes cfg_lp)
    writeFileSync(join(root, GROUP, "app.yaml"), "greeting: bonjour\n");
    await eventually(
      "hot swap",
      () => Promise.resolve(cfg.value.greeting),
      (g) => g === "bonjour",
      15_000,
    );

    // the member's own credential publishes config.applied; it is stored in KON_EVENTS
    const check = await connect(nats.clientOptions());
    try {
      const jsm = await jetstreamManager(check);
      const id = `app:${GROUP}:app:${cfg.revision}:n1:`;
      await eventually(
        "config.applied of the new revision stored",
        () =>
          jsm.streams
            .getMessage("KON_EVENTS", { last_by_subj: `kon.evt.${GROUP}.config.applied` })
            .then(
              (m) => m?.header.get("Nats-Msg-Id") ?? "",
              () => "",
            ),
        (got) => got.startsWith(id),
        15_000,
      );
    } finally {
      await check.close();
    }
  } finally {
    await kon.close();
  }
});

test("each system credential is refused what its role does not do", async () => {
  const loader = await asRole("config-loader");
  const monitor = await asRole("monitor");
  const analytics = await asRole("analytics");
  try {
    // only monitors write liveness and node events
    await expect(
      jetstream(loader).publish(`$KV.${names.nodesBucket}.${GROUP}.x`, "x"),
    ).rejects.toThrow(DENIED);
    await expect(jetstream(loader).publish(`kon.evt.${GROUP}.node.down`, "x")).rejects.toThrow(
      DENIED,
    );
    // only the loader writes config
    await expect(
      jetstream(monitor).publish(`$KV.${names.configBucket(GROUP)}.app`, "x"),
    ).rejects.toThrow(DENIED);
    await expect(
      jetstream(monitor).publish(`kon.evt.${GROUP}.config.published`, "x"),
    ).rejects.toThrow(DENIED);
    // analytics only consumes
    await expect(jetstream(analytics).publish(`kon.evt.${GROUP}.node.up`, "x")).rejects.toThrow(
      DENIED,
    );
    await expect(
      jetstream(analytics).publish(`$KV.${names.configBucket(GROUP)}.app`, "x"),
    ).rejects.toThrow(DENIED);
    // nobody deletes or purges the shared streams
    for (const nc of [loader, monitor, analytics]) {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      await expect(jsm.streams.delete(names.eventStream)).rejects.toThrow(DENIED);
      await expect(jsm.streams.purge(names.heartbeatStream)).rejects.toThrow(DENIED);
    }
  } finally {
    await Promise.all([loader.close(), monitor.close(), analytics.close()]);
  }
});
