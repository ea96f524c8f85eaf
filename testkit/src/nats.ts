import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAccount, createUser } from "@nats-io/nkeys";
import {
  SYSTEM_ROLES,
  renderServerAccounts,
  serviceInboxPrefix,
  wireNames,
} from "@konorkestra/sdk/internal";
import type { SystemRole } from "@konorkestra/sdk/internal";
import { getFreePort } from "./free-port";
import { sleep } from "./managed-process";
import type { LaunchSpec } from "./managed-process";
import { makeScratchDir } from "./scratch-dir";
import { testCertificates } from "./tls";
import type { ScratchDir } from "./scratch-dir";
import { ServerProcess } from "./server-process";
import { loadStackEnv } from "./stack-env";

/** A running nats-server with JetStream, on loopback. */
export interface NatsServer {
  readonly name: string;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring port (`/varz`, `/jsz`, `/healthz`). */
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly pid: number;
  readonly running: boolean;
  /** Clean shutdown; the store directory is kept until `stop()` of the owner removes it. */
  shutdown(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts again on the same ports with the same store (after `shutdown` or `kill`). */
  restart(): Promise<void>;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
  /** GET a monitoring endpoint, e.g. `monitor("jsz")`. */
  monitor<T = Record<string, unknown>>(path: string): Promise<T>;
  /**
   * Connection options of a test's own client (`servers` plus credentials): spread them into
   * `connect()` or into a service's options, e.g. `connect({ ...nats.clientOptions(), name })`.
   */
  clientOptions(): TestClientOptions;
  /** The same as KON_* variables, for a child process (all rights, like `clientOptions`). */
  clientEnv(): Record<string, string>;
  /**
   * Options of a system service (`config-loader`, `monitor`, `analytics`, `admin`): its own nkey
   * with the least privilege the server grants that role.
   */
  serviceOptions(role: SystemRole): ServiceClientOptions;
  /** The same as KON_* variables, for a child process. */
  serviceEnv(role: SystemRole): Record<string, string>;
  /** Options of a system-account user (server monitoring subjects, kicking connections). */
  systemOptions(): ServiceClientOptions;
  /** The credentials this server (or cluster) was configured with. */
  readonly credentials: TestCredentials;
}

/** What a test passes to `connect()` or to a Konorkestra service to reach a testkit server. */
export interface TestClientOptions {
  servers: string[];
  user: string;
  pass: string;
  /** nats.js TLS options (CA, and a client certificate under mutual TLS), when TLS is on. */
  tls?: { caFile: string; certFile?: string; keyFile?: string };
  /** The same for a Konorkestra service's options (`tlsCa`, `tlsCert`, `tlsKey`). */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** A system service's way in: servers plus its nkey seed file. */
export interface ServiceClientOptions {
  servers: string[];
  nkeySeedFile: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** The inbox prefix its rights allow (nats.js `inboxPrefix`). */
  inboxPrefix: string;
}

/** Keys and passwords of one testkit server's accounts (generated per server or cluster). */
export interface TestCredentials {
  /** Directory of the seed files (0700; files 0600). */
  dir: string;
  /** Seed of the account key that signs auth-callout answers (for the admin's responder). */
  calloutIssuerSeed: string;
  /** The same seed in a file (0600), as `make up` gives it to the admin service. */
  calloutIssuerSeedFile: string;
  calloutIssuer: string;
  seedFiles: Record<SystemRole | "system", string>;
  publicKeys: Record<SystemRole | "system", string>;
  testUser: { user: string; pass: string };
}

export interface NatsOptions {
  /** Extra lines for the server's configuration file. */
  extraConfig?: string;
  /**
   * Serve TLS with a local CA (scripts/tls.sh); clients then get the CA in their options.
   * `mutual` also requires a client certificate. @default true
   */
  tls?: boolean | "mutual";
  /** Server name, unique within a cluster. @default "kon-<random>" */
  name?: string;
}

interface Ports {
  client: number;
  monitor: number;
  cluster?: number;
}

interface ClusterSpec {
  name: string;
  routes: number[];
}

class NatsServerImpl extends ServerProcess implements NatsServer {
  constructor(
    readonly name: string,
    private readonly ports: Ports,
    dir: ScratchDir,
    private readonly configFile: string,
    readonly credentials: TestCredentials,
    readonly tlsMode: TlsMode,
  ) {
    super(dir);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }
  get port(): number {
    return this.ports.client;
  }
  get monitorPort(): number {
    return this.ports.monitor;
  }
  get storeDir(): string {
    return join(this.dir.hostPath, "jetstream");
  }

  protected launchSpec(): Omit<LaunchSpec, "scratchDir"> {
    return {
      name: `nats-server ${this.name}`,
      command: loadStackEnv().natsServer,
      args: ["-c", this.configFile],
      logFile: join(this.dir.hostPath, "nats.log"),
      readyPattern: /Server is ready/,
    };
  }

  clientOptions(): TestClientOptions {
    return { servers: [this.url], ...this.credentials.testUser, ...tlsClient(this.tlsMode) };
  }

  clientEnv(): Record<string, string> {
    const c = this.clientOptions();
    return {
      KON_SERVERS: this.url,
      KON_USER: c.user,
      KON_PASSWORD: c.pass,
      ...tlsEnv(this.tlsMode),
    };
  }

  serviceOptions(role: SystemRole): ServiceClientOptions {
    const { tls: _nats, ...tls } = tlsClient(this.tlsMode);
    return {
      servers: [this.url],
      nkeySeedFile: this.credentials.seedFiles[role],
      inboxPrefix: serviceInboxPrefix(wireNames(), role),
      ...tls,
    };
  }

  serviceEnv(role: SystemRole): Record<string, string> {
    return {
      KON_SERVERS: this.url,
      KON_NKEY_SEED_FILE: this.credentials.seedFiles[role],
      ...tlsEnv(this.tlsMode),
    };
  }

  systemOptions(): ServiceClientOptions {
    const { tls: _nats, ...tls } = tlsClient(this.tlsMode);
    return {
      servers: [this.url],
      nkeySeedFile: this.credentials.seedFiles.system,
      inboxPrefix: "_INBOX",
      ...tls,
    };
  }

  async monitor<T>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.ports.monitor}/${path.replace(/^\//, "")}`);
    if (!res.ok) throw new Error(`testkit: ${this.name} /${path} answered ${res.status}`);
    return (await res.json()) as T;
  }
}

type TlsMode = false | true | "mutual";

/** A client's TLS options for a server in `mode`, in nats.js and in Konorkestra's form. */
function tlsClient(mode: TlsMode): Pick<TestClientOptions, "tls" | "tlsCa" | "tlsCert" | "tlsKey"> {
  if (!mode) return {};
  const c = testCertificates();
  const mutual = mode === "mutual" ? { certFile: c.clientCert, keyFile: c.clientKey } : {};
  return {
    tls: { caFile: c.caFile, ...mutual },
    tlsCa: c.caFile,
    ...(mode === "mutual" ? { tlsCert: c.clientCert, tlsKey: c.clientKey } : {}),
  };
}

function tlsEnv(mode: TlsMode): Record<string, string> {
  const t = tlsClient(mode);
  return {
    ...(t.tlsCa ? { KON_TLS_CA: t.tlsCa } : {}),
    ...(t.tlsCert && t.tlsKey ? { KON_TLS_CERT: t.tlsCert, KON_TLS_KEY: t.tlsKey } : {}),
  };
}

function tlsConfig(mode: TlsMode): string {
  if (!mode) return "";
  const c = testCertificates();
  return [
    `tls {`,
    `  cert_file: ${JSON.stringify(c.serverCert)}`,
    `  key_file: ${JSON.stringify(c.serverKey)}`,
    `  ca_file: ${JSON.stringify(c.caFile)}`,
    `  verify: ${mode === "mutual"}`,
    `  timeout: 2`,
    `}`,
  ].join("\n");
}

/** Fresh keys for one server or cluster: seeds in a private directory, public keys rendered. */
export function makeTestCredentials(dir: string): TestCredentials {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const seedFile = (name: string, seed: Uint8Array): string => {
    const file = join(dir, `${name}.nk`);
    writeFileSync(file, new TextDecoder().decode(seed) + "\n", { mode: 0o600 });
    return file;
  };
  const issuer = createAccount();
  const calloutIssuerSeedFile = seedFile("callout-issuer", issuer.getSeed());
  const seedFiles = {} as Record<SystemRole | "system", string>;
  const publicKeys = {} as Record<SystemRole | "system", string>;
  for (const role of [...SYSTEM_ROLES, "system" as const]) {
    const kp = createUser();
    seedFiles[role] = seedFile(role, kp.getSeed());
    publicKeys[role] = kp.getPublicKey();
  }
  return {
    dir,
    calloutIssuerSeed: new TextDecoder().decode(issuer.getSeed()),
    calloutIssuerSeedFile,
    calloutIssuer: issuer.getPublicKey(),
    seedFiles,
    publicKeys,
    testUser: { user: "kon-test", pass: randomBytes(18).toString("base64url") },
  };
}

function accountsConfig(c: TestCredentials): string {
  return renderServerAccounts({
    names: wireNames(),
    calloutIssuer: c.calloutIssuer,
    serviceKeys: c.publicKeys,
    systemKey: c.publicKeys.system,
    testUser: c.testUser,
  });
}

function natsConfig(
  name: string,
  dir: ScratchDir,
  ports: Ports,
  creds: TestCredentials,
  tls: TlsMode,
  cluster?: ClusterSpec,
  extra?: string,
): string {
  const lines = [
    `server_name: "${name}"`,
    `listen: "127.0.0.1:${ports.client}"`,
    `http: "127.0.0.1:${ports.monitor}"`,
    `jetstream {`,
    `  store_dir: "${join(dir.hostPath, "jetstream")}"`,
    `  max_memory_store: 512MB`,
    `  max_file_store: 4GB`,
    `}`,
  ];
  if (cluster && ports.cluster) {
    lines.push(
      `cluster {`,
      `  name: "${cluster.name}"`,
      `  listen: "127.0.0.1:${ports.cluster}"`,
      `  routes: [${cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(", ")}]`,
      `}`,
    );
  }
  lines.push(accountsConfig(creds));
  if (tls) lines.push(tlsConfig(tls));
  if (extra) lines.push(extra);
  return lines.join("\n") + "\n";
}

function createServer(
  name: string,
  ports: Ports,
  creds: TestCredentials | undefined,
  tls: TlsMode,
  cluster?: ClusterSpec,
  extra?: string,
): NatsServerImpl {
  const dir = makeScratchDir("nats", "", "");
  const credentials = creds ?? makeTestCredentials(join(dir.hostPath, "secrets"));
  const configFile = join(dir.hostPath, "nats.conf");
  writeFileSync(configFile, natsConfig(name, dir, ports, credentials, tls, cluster, extra));
  return new NatsServerImpl(name, ports, dir, configFile, credentials, tls);
}

function randomName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Retries when a port picked as free was taken before the server could bind it. */
async function withPortRetry<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= 3 || !/address already in use|bind/i.test(String(err))) throw err;
    }
  }
}

/** Starts one JetStream nats-server on free loopback ports with a temporary store. */
export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  return withPortRetry(async () => {
    const ports = { client: await getFreePort(), monitor: await getFreePort() };
    const server = createServer(
      opts.name ?? randomName("kon"),
      ports,
      undefined,
      opts.tls ?? true,
      undefined,
      opts.extraConfig,
    );
    try {
      await server.start();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  });
}

/** Three (or `size`) JetStream servers routed to each other on loopback. */
export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Client URLs of all servers, for a client's `servers` option. */
  readonly urls: string[];
  /** All servers plus the test user's credentials (see {@link NatsServer.clientOptions}). */
  clientOptions(): TestClientOptions;
  /** All servers plus a system service's nkey (see {@link NatsServer.serviceOptions}). */
  serviceOptions(role: SystemRole): ServiceClientOptions;
  /** Name of the current JetStream meta leader. */
  metaLeader(): Promise<string>;
  /** Waits until every running server reports the same meta leader. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

class NatsClusterImpl implements NatsCluster {
  constructor(readonly servers: NatsServerImpl[]) {}

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  clientOptions(): TestClientOptions {
    return { ...this.servers[0]!.clientOptions(), servers: this.urls };
  }

  serviceOptions(role: SystemRole): ServiceClientOptions {
    return { ...this.servers[0]!.serviceOptions(role), servers: this.urls };
  }

  async metaLeader(): Promise<string> {
    for (const s of this.servers.filter((x) => x.running)) {
      const jsz = await s.monitor<Jsz>("jsz");
      if (jsz.meta_cluster?.leader) return jsz.meta_cluster.leader;
    }
    return "";
  }

  async waitForMetaLeader(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leaders = await Promise.all(
        this.servers
          .filter((s) => s.running)
          .map((s) =>
            s.monitor<Jsz>("jsz").then(
              (j) => j.meta_cluster?.leader ?? "",
              () => "",
            ),
          ),
      );
      const first = leaders[0];
      if (first && leaders.every((l) => l === first)) return first;
      if (Date.now() > deadline) {
        throw new Error(
          `testkit: no JetStream meta leader agreed on within ${timeoutMs} ms (${leaders.join(",")})`,
        );
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

/** Starts `size` JetStream servers in one cluster and waits for a meta leader. */
export async function startNatsCluster(
  size = 3,
  opts: { extraConfig?: string; tls?: boolean | "mutual" } = {},
): Promise<NatsCluster> {
  return withPortRetry(async () => {
    const clusterName = randomName("kon-cluster");
    const ports: Ports[] = [];
    for (let i = 0; i < size; i++) {
      ports.push({
        client: await getFreePort(),
        monitor: await getFreePort(),
        cluster: await getFreePort(),
      });
    }
    const routes = ports.map((p) => p.cluster!);
    // One set of keys for the whole cluster: every server must know the same accounts.
    const creds = makeTestCredentials(makeScratchDir("nats-keys", "", "").hostPath);
    const servers = ports.map((p, i) =>
      createServer(
        `${clusterName}-n${i + 1}`,
        p,
        creds,
        opts.tls ?? true,
        { name: clusterName, routes },
        opts.extraConfig,
      ),
    );
    const cluster = new NatsClusterImpl(servers);
    try {
      await Promise.all(servers.map((s) => s.start()));
      await cluster.waitForMetaLeader();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  });
}
