// Shared set-up of the `kon agent` and `kon run` integration tests: a real nats-server, the real
// config-loader (in process) on a temp folder, the admin's auth-callout responder so that `kon`
// joins with a group join key like any member, and `kon` itself as a real process from
// cli/dist/bin.js. Nothing is mocked.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { credentialOptions, ensureStreams, wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { CalloutResponder } from "@konorkestra/admin";
import { createConfigLoader } from "@konorkestra/config-loader";
import type { ConfigLoader } from "@konorkestra/config-loader";

export const names = wireNames();
const REPO = join(__dirname, "../..");
export const KON_BIN = join(REPO, "cli/dist/bin.js");
export const EXAMPLES = join(REPO, "examples");
/** Debian's python3 when present (the example promises it is enough), else the one on PATH. */
export const PYTHON = existsFile("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

function existsFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure cli/dist/bin.js is built from the current cli/src (`make test` builds first; a
 * targeted run may not have): builds the cli project and what it references when it is stale.
 */
export function ensureKonBuilt(): void {
  // tsc rewrites only outputs whose text changed, but its build info at every build of cli.
  const info = join(REPO, "cli/dist/.tsbuildinfo");
  const fresh = (): boolean =>
    existsFile(KON_BIN) &&
    existsFile(info) &&
    statSync(info).mtimeMs >= newestMtime(join(REPO, "cli/src"));
  if (fresh()) return;
  try {
    execFileSync(
      process.execPath,
      [join(REPO, "node_modules/typescript/bin/tsc"), "--build", "cli/tsconfig.json"],
      {
        cwd: REPO,
        stdio: "pipe",
      },
    );
  } catch (err) {
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
    if (!fresh())
      throw new Error(`cannot build kon (npx tsc --build tsconfig.build.json):\n${out}`);
  }
}

/** NATS + callout + loader on a temp folder holding one group. */
export class ConfigStack {
  readonly joinKeyFile: string;
  private readonly procs: KonProcess[] = [];

  private constructor(
    readonly nats: NatsServer,
    readonly root: string,
    readonly group: string,
    readonly joinKey: string,
    private readonly adminNc: NatsConnection,
    private readonly responder: CalloutResponder,
    private readonly loader: ConfigLoader,
    readonly nc: NatsConnection,
  ) {
    this.joinKeyFile = join(root, "join-key");
    writeFileSync(this.joinKeyFile, `${joinKey}\n`, { mode: 0o600 });
  }

  /** Starts everything with `files` (key → YAML) in the group's folder; waits until published. */
  static async start(group: string, files: Record<string, string>): Promise<ConfigStack> {
    ensureKonBuilt();
    const nats = await startNats();
    const root = mkdtempSync(join(tmpdir(), "kon-cli-"));
    const configDir = join(root, "config");
    mkdirSync(join(configDir, group), { recursive: true });
    for (const [key, yaml] of Object.entries(files))
      writeFileSync(join(configDir, group, `${key}.yaml`), yaml);
    const joinKey = `KEY-${group}-${process.pid}`;
    const o = nats.serviceOptions("admin");
    const adminNc = await connect({
      servers: o.servers,
      inboxPrefix: o.inboxPrefix,
      ...credentialOptions(o),
    });
    const responder = new CalloutResponder({
      nc: adminNc,
      names,
      issuerSeed: nats.credentials.calloutIssuerSeed,
      verifier: {
        verify: (key) =>
          Promise.resolve(
            key === joinKey
              ? { ok: true, group, keyId: "TESTKEY" }
              : { ok: false, reason: "unknown key" },
          ),
      },
      logger: silentLogger,
    });
    responder.start();
    await adminNc.flush();
    const nc = await connect(nats.clientOptions());
    // The system services create the shared streams; members (kon) only use them.
    await ensureStreams(await jetstreamManager(nc), names, { replicas: 1 });
    const loader = createConfigLoader(
      {
        configDir,
        ...nats.clientOptions(),
        port: 0,
        debounceMs: 50,
        debounceMaxMs: 500,
        resyncMs: 0,
        git: false,
        loaderId: "cli-test-loader",
      },
      silentLogger,
    );
    await loader.start();
    await loader.whenReady();
    const stack = new ConfigStack(nats, root, group, joinKey, adminNc, responder, loader, nc);
    for (const key of Object.keys(files)) await stack.waitRevision(key, 0);
    return stack;
  }

  /** Saves `<group>/<key>.yaml` as editors do (temp file, then rename). */
  write(key: string, yaml: string): void {
    const path = join(this.root, "config", this.group, `${key}.yaml`);
    writeFileSync(`${path}.tmp`, yaml);
    renameSync(`${path}.tmp`, path);
  }

  /** Waits until the bucket holds `key` at a revision above `after`; returns that revision. */
  async waitRevision(key: string, after: number, timeoutMs = 15_000): Promise<number> {
    const kv = await new Kvm(this.nc).open(names.configBucket(this.group));
    return eventually(
      `${key} published after revision ${after}`,
      async () => (await kv.get(key).catch(() => null))?.revision ?? 0,
      (rev) => rev > after,
      timeoutMs,
    );
  }

  /** Environment of a `kon` process: where NATS is, TLS, a private snapshot directory. */
  konEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const c = this.nats.clientOptions();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("KON_")) delete env[k];
    return {
      ...env,
      KON_SERVERS: this.nats.url,
      ...(c.tlsCa ? { KON_TLS_CA: c.tlsCa } : {}),
      KON_SNAPSHOT_DIR: join(this.root, `state-${this.procs.length}`),
      KON_CONNECT_TIMEOUT_MS: "20000",
      ...extra,
    };
  }

  /** Starts `node cli/dist/bin.js ...args`; stopped (SIGTERM) by `stop()` if still running. */
  kon(args: string[], env: NodeJS.ProcessEnv = this.konEnv()): KonProcess {
    const p = new KonProcess(spawn(process.execPath, [KON_BIN, ...args], { env, stdio: "pipe" }));
    this.procs.push(p);
    return p;
  }

  async stop(): Promise<void> {
    for (const p of this.procs) await p.stop();
    await this.loader.stop();
    await this.responder.stop();
    await this.adminNc.close();
    await this.nc.close();
    await this.nats.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A child process whose output the test reads line by line. */
export class KonProcess {
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  }

  get output(): string {
    return `--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }

  /** Waits for a stdout line matching `re`, after the first `skip` matches; returns its match. */
  async line(re: RegExp, skip = 0, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const global = new RegExp(re.source, `${re.flags.replace("g", "")}gm`);
    return eventually(
      `output line ${re}`,
      () => Promise.resolve([...this.stdout.matchAll(global)][skip]),
      (m) => m !== undefined,
      timeoutMs,
      () => this.output,
    ).then((m) => m!);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid) {
      process.kill(this.child.pid, "SIGTERM");
      await this.exited;
    }
  }
}

/** Polls `probe` until `ok` accepts its value. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
  context: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(v)}\n${context()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One HTTP request over the agent's Unix socket. */
export function unixRequest(
  socketPath: string,
  path: string,
  opts: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => unknown;
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: opts.method ?? "GET", headers: { host: "kon", ...opts.headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text) as unknown,
          }),
        );
      },
    );
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
