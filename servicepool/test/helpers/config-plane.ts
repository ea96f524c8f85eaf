import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import { spawnTs, startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";

const LOADER_MAIN = join(__dirname, "../../../config-loader/src/main.ts");

/**
 * The real config plane for a service test: a nats-server, a config folder, and the config-loader
 * running as its own process (as in production), so a test edits a file and watches the service.
 */
export class ConfigPlane {
  private readonly clients: Konorkestra[] = [];
  private loaderLog = "";

  private constructor(
    readonly nats: NatsServer,
    readonly root: string,
    readonly group: string,
    private readonly loader: ChildProcess,
  ) {
    loader.stdout?.on("data", (d: Buffer) => (this.loaderLog += d.toString()));
    loader.stderr?.on("data", (d: Buffer) => (this.loaderLog += d.toString()));
  }

  /** Starts NATS and the loader on a folder holding `files` (key → file content, YAML). */
  static async start(group: string, files: Record<string, string>): Promise<ConfigPlane> {
    const nats = await startNats();
    const root = mkdtempSync(join(tmpdir(), "kon-sp-"));
    for (const [key, content] of Object.entries(files))
      writeAtomically(join(root, group, `${key}.yaml`), content);
    const loader = spawnTs(LOADER_MAIN, [], {
      env: {
        ...process.env,
        KON_CONFIG_DIR: root,
        ...nats.clientEnv(),
        KON_LOADER_PORT: "0",
        KON_RESYNC_MS: "0",
        KON_GIT: "0",
      },
    });
    const plane = new ConfigPlane(nats, root, group, loader);
    for (const key of Object.keys(files)) await plane.waitPublished(key);
    return plane;
  }

  /** Saves `<root>/<group>/<key>.yaml` the way editors do: temp file, then rename. */
  write(key: string, content: string): void {
    writeAtomically(join(this.root, this.group, `${key}.yaml`), content);
  }

  /** Waits until the loader has published `key` (optionally with content containing `needle`). */
  async waitPublished(key: string, timeoutMs = 20_000): Promise<void> {
    const nc = await connect(this.nats.clientOptions());
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const kv = await new Kvm(nc).open(`cfg_${this.group}`).catch(() => undefined);
        const e = await kv?.get(key).catch(() => null);
        if (e && e.operation === "PUT") return;
        if (Date.now() > deadline)
          throw new Error(`loader did not publish ${key}; loader output:\n${this.loaderLog}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await nc.close();
    }
  }

  async connect(nodeId: string): Promise<Konorkestra> {
    const kon = await Konorkestra.connect({
      ...this.nats.clientOptions(),
      group: this.group,
      nodeId,
      snapshotDir: join(this.root, ".snapshots"),
      logger: silentLogger,
    });
    this.clients.push(kon);
    return kon;
  }

  async stop(): Promise<void> {
    for (const kon of this.clients) await kon.close();
    if (this.loader.exitCode === null && this.loader.pid) {
      const exited = new Promise((r) => this.loader.once("exit", r));
      process.kill(this.loader.pid, "SIGTERM");
      await exited;
    }
    await this.nats.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

function writeAtomically(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** Polls `probe` until it returns a value that `ok` accepts. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let clientSeq = 0;
/** GET/POST JSON from a service on loopback; each call is its own rate-limit client unless given one. */
export async function http(
  port: number,
  path: string,
  init: { method?: string; client?: string; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: init.method ?? "GET",
    headers: {
      "x-client-id": init.client ?? `probe-${process.pid}-${++clientSeq}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
