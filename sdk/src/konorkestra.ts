import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { AppliedRegistry } from "./applied-registry";
import { KonError, KonErrorCode } from "./errors";
import { resolveNodeId } from "./identity";
import type { NodeIdSource } from "./identity";
import { consoleLogger } from "./logger";
import type { Logger } from "./logger";
import { wireNames } from "./names";
import type { WireNames } from "./names";
import { parseKonorkestraOptions } from "./options";
import type { KonorkestraOptions, ResolvedOptions } from "./options";
import { ensureStreams } from "./streams";

/** Extra options that have no environment form. */
export interface KonorkestraRuntimeOptions extends KonorkestraOptions {
  /** Where the SDK logs. @default console, prefixed "[konorkestra]" */
  logger?: Logger;
}

/**
 * A service's handle on Konorkestra: one NATS connection, the group, the node id, and the
 * features hung off it (config watchers, heartbeats).
 *
 * `connect` never fails because NATS is unreachable: after `connectTimeoutMs` it returns offline
 * and keeps trying in the background (a service can start on its last-known-good snapshot).
 */
export class Konorkestra {
  readonly options: ResolvedOptions;
  readonly group: string;
  readonly nodeId: string;
  readonly nodeIdSource: NodeIdSource;
  readonly names: WireNames;
  readonly logger: Logger;
  /** Revision and sha256 of every config key this process currently applies (sent in heartbeats). */
  readonly applied = new AppliedRegistry();

  private conn: NatsConnection | undefined;
  private readonly firstConnect: Promise<NatsConnection>;
  private resolveFirst!: (nc: NatsConnection) => void;
  private rejectFirst!: (err: Error) => void;
  private closing = false;
  private readonly closeHooks: (() => Promise<void> | void)[] = [];
  private lastConnectError: unknown;

  private constructor(
    options: ResolvedOptions,
    nodeId: string,
    nodeIdSource: NodeIdSource,
    logger: Logger,
  ) {
    this.options = options;
    this.group = options.group;
    this.nodeId = nodeId;
    this.nodeIdSource = nodeIdSource;
    this.names = wireNames(options.prefix);
    this.logger = logger;
    this.firstConnect = new Promise((resolve, reject) => {
      this.resolveFirst = resolve;
      this.rejectFirst = reject;
    });
    // Callers that never ask for the connection must not see an unhandled rejection on close.
    this.firstConnect.catch(() => undefined);
  }

  /** Validates options (given, then KON_* env), resolves the node id and connects. */
  static async connect(opts: KonorkestraRuntimeOptions = {}): Promise<Konorkestra> {
    const options = parseKonorkestraOptions(opts);
    const { nodeId, source } = await resolveNodeId({
      nodeId: options.nodeId,
      source: options.nodeIdSource,
      awsMetadataUrl: options.awsMetadataUrl,
      appendPid: options.nodeIdAppendPid,
    });
    const kon = new Konorkestra(options, nodeId, source, opts.logger ?? consoleLogger);
    if (options.configSource !== "nats") return kon; // file source: no NATS at all
    void kon.connectLoop();
    const timer = new Promise<"timeout">((r) =>
      setTimeout(() => r("timeout"), options.connectTimeoutMs).unref(),
    );
    if (
      (await Promise.race([
        kon.firstConnect.then(
          () => "ok" as const,
          () => "closed" as const,
        ),
        timer,
      ])) === "timeout"
    ) {
      kon.logger.warn(
        `NATS at ${options.servers.join(",")} unreachable after ${options.connectTimeoutMs} ms; starting offline and retrying (${String(kon.lastConnectError)})`,
      );
    }
    return kon;
  }

  private async connectLoop(): Promise<void> {
    let delay = 100;
    while (!this.closing) {
      try {
        const nc = await connect({
          servers: this.options.servers,
          name: `kon:${this.options.service}:${this.nodeId}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          timeout: 2000,
          token: this.options.token,
          user: this.options.user,
          pass: this.options.pass,
        });
        if (this.closing) {
          await nc.close();
          return;
        }
        this.conn = nc;
        await ensureStreams(await jetstreamManager(nc), this.names, {
          replicas: this.options.replicas,
        });
        this.resolveFirst(nc);
        return;
      } catch (err) {
        if (String(err) !== String(this.lastConnectError) && this.conn) {
          // Connected, but the streams could not be ensured (no JetStream, no permission).
          this.logger.warn(`cannot prepare streams: ${String(err)}`);
        }
        this.lastConnectError = err;
        if (this.conn) {
          await this.conn.close().catch(() => undefined);
          this.conn = undefined;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  /** True once connected (it may be reconnecting now). */
  get online(): boolean {
    return this.conn !== undefined;
  }

  /** The NATS connection, once there is one. */
  get connection(): NatsConnection | undefined {
    return this.conn;
  }

  /** Resolves with the connection once connected; rejects if closed first. */
  nats(): Promise<NatsConnection> {
    return this.firstConnect;
  }

  /** JetStream client on the connection (waits for it). */
  async jetstream(): Promise<JetStreamClient> {
    return jetstream(await this.nats());
  }

  async jetstreamManager(): Promise<JetStreamManager> {
    return jetstreamManager(await this.nats());
  }

  async kvm(): Promise<Kvm> {
    return new Kvm(await this.nats());
  }

  // <config-plane: config() goes here>

  // <liveness: heartbeat() goes here>

  /** Registers work to do on close (stop watchers, send a leaving heartbeat), run in reverse order. */
  onClose(hook: () => Promise<void> | void): void {
    this.closeHooks.push(hook);
  }

  get closed(): boolean {
    return this.closing;
  }

  /** Runs close hooks (last registered first), then drains the connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const hook of [...this.closeHooks].reverse()) {
      try {
        await hook();
      } catch (err) {
        this.logger.warn(`close hook failed: ${String(err)}`);
      }
    }
    this.rejectFirst(new KonError(KonErrorCode.Closed, "Konorkestra connection closed"));
    if (this.conn && !this.conn.isClosed()) {
      await this.conn.drain().catch(() => this.conn?.close());
    }
  }
}
