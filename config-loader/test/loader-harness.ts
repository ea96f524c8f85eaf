// Shared set-up of the config-loader integration tests: a real nats-server from testkit, real
// temp folders, real loaders. Nothing here is mocked.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { StoredMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEntry, ConfigEvent, decodeMessage } from "@konorkestra/proto";
import { ensureSchemasBucket, wireNames } from "@konorkestra/sdk/internal";
import type { ConfigEventWord } from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createConfigLoader } from "../src/config-loader";
import type { ConfigLoader } from "../src/config-loader";
import type { ConfigLoaderOptions } from "../src/options";

export const names = wireNames("kon");

/** A nats-server, a client connection, and every loader and folder a test file made. */
export class Harness {
  private loaders: ConfigLoader[] = [];
  private dirs: string[] = [];

  private constructor(
    readonly nats: NatsServer,
    readonly nc: NatsConnection,
  ) {}

  static async start(): Promise<Harness> {
    const nats = await startNats();
    const nc = await connect({
      ...nats.clientOptions(),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    return new Harness(nats, nc);
  }

  /** A fresh folder (realpath'd: /tmp may be a symlink). */
  tempDir(): string {
    const d = realpathSync(
      mkdtempSync(join(process.env.KON_TEST_TMPDIR ?? tmpdir(), "kon-loader-")),
    );
    this.dirs.push(d);
    return d;
  }

  /** Starts a loader on `configDir` and waits for its first successful reconcile. */
  async loader(
    configDir: string,
    opts: ConfigLoaderOptions = {},
    wait = true,
  ): Promise<{ loader: ConfigLoader; logs: string[] }> {
    const logs: string[] = [];
    const logger: Logger = {
      info: (m) => logs.push(`info ${m}`),
      warn: (m) => logs.push(`warn ${m}`),
      error: (m) => logs.push(`error ${m}`),
    };
    const loader = createConfigLoader(
      {
        configDir,
        ...this.nats.clientOptions(),
        port: 0,
        debounceMs: 50,
        debounceMaxMs: 500,
        resyncMs: 0,
        git: false,
        loaderId: "test-loader",
        ...opts,
      },
      logger,
    );
    this.loaders.push(loader);
    await loader.start();
    if (wait) await withTimeout(loader.whenReady(), 15_000, "first reconcile");
    return { loader, logs };
  }

  async stop(): Promise<void> {
    for (const l of this.loaders) await l.stop();
    await this.nc.close().catch(() => undefined);
    await this.nats?.stop();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }

  /** Current entries of `cfg_<group>`: key → decoded entry and revision. */
  async entries(group: string): Promise<Map<string, { entry: ConfigEntry; revision: number }>> {
    const kv = await new Kvm(this.nc).open(names.configBucket(group));
    const out = new Map<string, { entry: ConfigEntry; revision: number }>();
    for await (const k of await kv.keys()) {
      const e = await kv.get(k);
      if (e && e.operation === "PUT")
        out.set(k, { entry: decodeMessage(ConfigEntry, e.value), revision: e.revision });
    }
    return out;
  }

  async bucketExists(group: string): Promise<boolean> {
    const jsm = await jetstreamManager(this.nc);
    return jsm.streams.info(`KV_${names.configBucket(group)}`).then(
      () => true,
      () => false,
    );
  }

  /** The stored message at `seq` of the group's KV stream. */
  async message(group: string, seq: number): Promise<StoredMsg> {
    const jsm = await jetstreamManager(this.nc);
    const m = await jsm.streams.getMessage(`KV_${names.configBucket(group)}`, { seq });
    if (!m) throw new Error(`no message ${seq} in cfg_${group}`);
    return m;
  }

  /** Last sequence of the group's KV stream. */
  async lastSeq(group: string): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    return (await jsm.streams.info(`KV_${names.configBucket(group)}`)).state.last_seq;
  }

  /** Every `config.<kind>` event of a group stored in KON_EVENTS. */
  async events(group: string, kind: ConfigEventWord): Promise<ConfigEvent[]> {
    const js = jetstream(this.nc);
    const jsm = await jetstreamManager(this.nc);
    const subject = names.eventSubject(group, `config.${kind}`);
    const info = await jsm.streams.info(names.eventStream, { subjects_filter: subject });
    const count = info.state.subjects?.[subject] ?? 0;
    if (count === 0) return [];
    const c = await js.consumers.get(names.eventStream, { filter_subjects: [subject] });
    const out: ConfigEvent[] = [];
    const msgs = await c.consume();
    for await (const m of msgs) {
      out.push(decodeMessage(ConfigEvent, m.data));
      if (m.info.pending === 0) break;
    }
    await msgs.close();
    return out;
  }

  /** Registers a JSON Schema for `<group>.<key>` the way the SDK does (wire contract). */
  async registerSchema(group: string, key: string, schema: Record<string, unknown>): Promise<void> {
    const kv = await ensureSchemasBucket(this.nc, names);
    await kv.put(
      `${group}.${key}`,
      JSON.stringify({ schema, service: "svc-test", nodeId: "n1", registeredAtMs: Date.now() }),
    );
  }
}

/** Writes a file, creating its folders. */
export function put(root: string, rel: string, content: string | Uint8Array): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}

export const text = (e: ConfigEntry): string => Buffer.from(e.payload).toString("utf8");

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns something other than undefined (bounded). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Number of successful reconcile passes of a scope so far (from the loader's own metrics). */
export async function passes(loader: ConfigLoader, scope: "full" | "partial"): Promise<number> {
  const metric = loader.metricsRegistry.getSingleMetric("kon_loader_reconciles_total");
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => v.labels.scope === scope && v.labels.outcome === "ok")
    .reduce((n, v) => n + v.value, 0);
}
