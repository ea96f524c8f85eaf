// A valid join key of another group (KON_GROUP=alpha with beta's key), against a real NATS with
// the admin's auth-callout responder: the server admits the key (it is valid, for beta), so the
// refusal can only come from the group's subjects. The SDK's `connect` must reject with
// NATS_REFUSED naming the group (never the key), and `kon agent` / `kon run` exit 4 with that
// message, not 1 with a stack trace from a permission error nobody caught.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { CalloutResponder } from "@konorkestra/admin";
import { KonError, KonErrorCode, Konorkestra, silentLogger } from "@konorkestra/sdk";
import {
  credentialOptions,
  ensureConfigBucket,
  ensureStreams,
  wireNames,
} from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { KON_BIN, KonProcess, ensureKonBuilt } from "./agent-stack";
import { spawn } from "node:child_process";

const names = wireNames();
const KEYS: Record<string, string> = {
  alpha: `KEY-alpha-${process.pid}-secret`,
  beta: `KEY-beta-${process.pid}-secret`,
};
let nats: NatsServer;
let adminNc: NatsConnection;
let rootNc: NatsConnection;
let responder: CalloutResponder;
let root: string;
let betaKeyFile: string;

beforeAll(async () => {
  ensureKonBuilt();
  nats = await startNats();
  root = mkdtempSync(join(tmpdir(), "kon-foreign-key-"));
  betaKeyFile = join(root, "beta-key");
  writeFileSync(betaKeyFile, `${KEYS.beta}\n`, { mode: 0o600 });
  const o = nats.serviceOptions("admin");
  adminNc = await connect({
    servers: o.servers,
    inboxPrefix: o.inboxPrefix,
    ...credentialOptions(o),
  });
  responder = new CalloutResponder({
    nc: adminNc,
    names,
    issuerSeed: nats.credentials.calloutIssuerSeed,
    verifier: {
      verify: (key) => {
        const group = Object.keys(KEYS).find((g) => KEYS[g] === key);
        return Promise.resolve(
          group ? { ok: true, group, keyId: `K${group}` } : { ok: false, reason: "unknown key" },
        );
      },
    },
    logger: silentLogger,
  });
  responder.start();
  await adminNc.flush();
  // The system services create the streams and the group buckets; members only use them.
  rootNc = await connect(nats.clientOptions());
  await ensureStreams(await jetstreamManager(rootNc), names, { replicas: 1 });
  for (const g of Object.keys(KEYS)) await ensureConfigBucket(rootNc, names, g);
});

afterAll(async () => {
  await responder?.stop();
  await adminNc?.close();
  await rootNc?.close();
  await nats?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

function member(group: string, joinKey: string, nodeId: string): Promise<Konorkestra> {
  return Konorkestra.connect({
    servers: [nats.url],
    tlsCa: nats.clientOptions().tlsCa,
    group,
    joinKey,
    nodeId,
    connectTimeoutMs: 15_000,
    snapshotDir: join(root, `state-${nodeId}`),
    logger: silentLogger,
  });
}

test("connect with another group's valid key rejects with NATS_REFUSED naming the group", async () => {
  // The right key joins (the set-up is sound).
  const ok = await member("alpha", KEYS.alpha!, "a1");
  expect(ok.online).toBe(true);
  await ok.close();

  const started = Date.now();
  const err = await member("alpha", KEYS.beta!, "a2").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KonError);
  expect((err as KonError).code).toBe(KonErrorCode.NatsRefused);
  const msg = (err as KonError).message;
  expect(msg).toMatch(/group 'alpha'/);
  expect(msg).toMatch(/another group/);
  expect(msg).not.toContain(KEYS.beta);
  // Refused at once, not after the connect timeout.
  expect(Date.now() - started).toBeLessThan(10_000);
});

function kon(args: string[], extra: Record<string, string> = {}): KonProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("KON_")) delete env[k];
  const c = nats.clientOptions();
  return new KonProcess(
    spawn(process.execPath, [KON_BIN, ...args], {
      env: {
        ...env,
        KON_SERVERS: nats.url,
        ...(c.tlsCa ? { KON_TLS_CA: c.tlsCa } : {}),
        KON_SNAPSHOT_DIR: join(root, `state-${args[0]}`),
        KON_CONNECT_TIMEOUT_MS: "30000",
        ...extra,
      },
      stdio: "pipe",
    }),
  );
}

test("kon agent and kon run with another group's key exit 4 (NATS_REFUSED), no stack trace", async () => {
  const agentArgs = ["agent", "--group", "alpha", "--socket", join(root, "agent.sock")];
  const runArgs = ["run", "--group", "alpha", "--key", "service1", "--env", "APP_"];
  const commands: [string[], Record<string, string>][] = [
    [[...agentArgs, "--join-key-file", betaKeyFile], {}],
    [[...runArgs, "--", process.execPath, "-e", "0"], { KON_JOIN_KEY: KEYS.beta! }],
  ];
  // One after the other: on a loaded machine two joins at once made the callout slow enough to
  // time out the connect attempts.
  for (const [args, extra] of commands) {
    const p = kon(args, extra);
    try {
      const e = await p.exited;
      // The stderr is in the message of a failing assertion: it says why the code was not 4.
      expect(`${e.code} ${p.stderr}`).toMatch(
        /^4 [^]*group 'alpha'.*another group[^]*\[NATS_REFUSED\]/,
      );
      expect(p.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(p.stderr).not.toContain(KEYS.beta);
    } finally {
      await p.stop();
    }
  }
});
