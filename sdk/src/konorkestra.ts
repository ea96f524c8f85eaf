import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connectService } from "./nats/connect-service";
import { checkGroupAccess } from "./nats/group-access";
import { natsAuthOf } from "./options/common-options";
import { describeConnectFailure, displayServers, natsConnectError } from "./connect-failure";
import type { ConnectFailure } from "./connect-failure";
import { snapshotWrittenFor } from "./config/snapshot-origin";
import type { NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";
import { AppliedRegistry } from "./applied-registry";
import { AppliedReporter } from "./config/applied-reporter";
import type { ConfigHandle } from "./config/config-handle";
import { ConfigHub } from "./config/config-hub";
import type { ChangeSetListener } from "./config/config-hub";
import type { ConfigOptions, ConfigSchema } from "./config/config-types";
import { KonError, KonErrorCode } from "./errors";
import { HeartbeatClient } from "./heartbeat/heartbeat-client";
import type { HeartbeatHandle } from "./heartbeat/heartbeat-client";
import { parseHeartbeatOptions } from "./heartbeat/heartbeat-options";
import type { HeartbeatOptions } from "./heartbeat/heartbeat-options";
import { resolveNodeId } from "./identity";
import type { NodeIdSource } from "./identity";
import { consoleLogger } from "./logger";
import type { Logger } from "./logger";
import { redactSecrets } from "./redact";
import { wireNames } from "./wire/names";
import { groupInboxPrefix } from "./wire/permissions";
import type { WireNames } from "./wire/names";
import { parseKonorkestraOptions } from "./options/konorkestra-options";
import type { KonorkestraOptions, ResolvedOptions } from "./options/konorkestra-options";
import { ensureStreams } from "./wire/streams";
import { settlesWithin } from "./config/race-timeout";

/** Extra options that have no environment form. */
export interface KonorkestraRuntimeOptions extends KonorkestraOptions {
  /** Where the SDK logs. @default console, prefixed "[konorkestra]" */
  logger?: Logger;
}

/**
 * A service's handle on Konorkestra: one NATS connection, the group, the node id, and the
 * features hung off it (config watchers, heartbeats).
 *
 * `connect` fails fast on a NATS it cannot reach, unless `offlineStart` lets it start offline
 * (on the last-known-good snapshot); once connected, an outage never ends the process: the
 * client reconnects forever and the config keeps its values.
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
  private lastFailure: ConnectFailure | undefined;
  private onPermanentFailure: (() => void) | undefined;
  /** Set while running offline after `connect` resolved without NATS. */
  private startedOfflineAt: number | undefined;

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

  /**
   * Validates options (given, then KON_* env), resolves the node id and connects.
   *
   * When NATS does not answer within `connectTimeoutMs`, `offlineStart` decides: reject with
   * `NATS_UNREACHABLE`, or resolve offline (config from the last-known-good snapshot) and keep
   * trying in the background. A refused credential (`NATS_REFUSED`) or a TLS failure rejects at
   * once.
   * @throws {@link KonError} `INVALID_OPTIONS`, `INVALID_NAME`, `NATS_UNREACHABLE`, `NATS_REFUSED`
   */
  static async connect(opts: KonorkestraRuntimeOptions = {}): Promise<Konorkestra> {
    const options = parseKonorkestraOptions(opts);
    const { nodeId, source } = await resolveNodeId({
      nodeId: options.nodeId,
      source: options.nodeIdSource,
      awsMetadataUrl: options.awsMetadataUrl,
      suffix: options.nodeIdSuffix,
      appendPid: options.nodeIdAppendPid,
    });
    const kon = new Konorkestra(options, nodeId, source, opts.logger ?? consoleLogger);
    if (options.configSource !== "nats") return kon; // file source: no NATS at all
    void kon.connectLoop();
    const first = await kon.waitForFirstConnect(options.connectTimeoutMs);
    if (first === "ok") return kon;
    const failure = kon.lastFailure;
    if (failure?.permanent) {
      await kon.close();
      if (kon.lastConnectError instanceof KonError) throw kon.lastConnectError;
      throw natsConnectError(options.servers, options.connectTimeoutMs, failure, "Not retrying.");
    }
    const refusal = await kon.offlineRefusal();
    if (refusal === undefined || kon.online) {
      if (!kon.online) {
        kon.startedOfflineAt = Date.now();
        kon.logger.warn(
          `NATS at ${displayServers(options.servers)} unreachable after ${options.connectTimeoutMs} ms (${failure?.why ?? "no answer"}); starting offline (offlineStart ${options.offlineStart}) and retrying`,
        );
      }
      return kon;
    }
    await kon.close();
    throw natsConnectError(options.servers, options.connectTimeoutMs, kon.lastFailure, refusal);
  }

  /** Resolves when connected, on a permanent failure, or after `timeoutMs`. */
  private async waitForFirstConnect(timeoutMs: number): Promise<"ok" | "failed" | "timeout"> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const permanent = new Promise<"failed">((r) => (this.onPermanentFailure = () => r("failed")));
    try {
      return await Promise.race([
        this.firstConnect.then(
          () => "ok" as const,
          () => "failed" as const,
        ),
        permanent,
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      this.onPermanentFailure = undefined;
    }
  }

  /**
   * Why this process may not start without NATS, or undefined when it may (see
   * {@link KonorkestraOptions.offlineStart}).
   */
  private async offlineRefusal(): Promise<string | undefined> {
    const { offlineStart, snapshotDir, prefix, group, servers } = this.options;
    const anyway =
      "Check the address (a typo, the wrong port), or set KON_OFFLINE_START=snapshot to start on the last-known-good snapshot while NATS is down.";
    if (offlineStart === "snapshot") return undefined;
    if (offlineStart === "fail") return `Not starting offline (offlineStart fail). ${anyway}`;
    const verdict = await snapshotWrittenFor(snapshotDir, prefix, group, servers);
    return verdict.ok ? undefined : `Not starting offline: ${verdict.why}. ${anyway}`;
  }

  /**
   * Says why NATS turned this process away after it had joined: a reconnect refused for its
   * credential (a join key revoked, past its rotation's grace, or of a deleted group). Otherwise
   * the only trace is "heartbeats paused". Once per outage; the credential itself is never shown.
   */
  private watchRefusals(nc: NatsConnection): void {
    void (async () => {
      let refused = false;
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.linkDown = true;
        } else if (s.type === "reconnect") {
          this.linkDown = false;
          refused = false;
        } else if (s.type === "error" && !refused && isCredentialRefusal(s.error)) {
          refused = true;
          this.logger.error(
            `NATS refused this process's credential when it reconnected (${redactSecrets(s.error.message)}): ` +
              `a join key that was revoked, whose rotation grace period ended or whose group was deleted no longer admits. ` +
              `Heartbeats and config updates stay paused until NATS admits it again; restart with a valid key of group '${this.options.group}'.`,
          );
        } else if (s.type === "close" && refused && !this.closing) {
          this.logger.error(
            "NATS closed this process's connection after refusing its credential: no more reconnects; restart with a valid key",
          );
        }
      }
    })().catch(() => undefined);
  }

  /** Between a disconnect and the reconnect that follows it (seen by {@link watchRefusals}). */
  private linkDown = false;

  private async connectLoop(): Promise<void> {
    let delay = 100;
    while (!this.closing) {
      try {
        const nc = await connectService({
          servers: this.options.servers,
          role: this.options.service,
          id: this.nodeId,
          ...natsAuthOf(this.options),
          // The only inbox a member's rights allow (see wire/permissions).
          inboxPrefix: groupInboxPrefix(this.names, this.options.group),
        });
        if (this.closing) {
          await nc.close();
          return;
        }
        this.conn = nc;
        if (!(await this.groupAdmits(nc))) continue;
        // A member that joined with its group's key may not create streams: the system
        // services do. Other credentials (tests, a trusted single-node setup) still may.
        if (!this.options.joinKey) {
          await ensureStreams(await jetstreamManager(nc), this.names, {
            replicas: this.options.replicas,
          });
        }
        this.resolveFirst(nc);
        this.sayOnline();
        this.watchRefusals(nc);
        return;
      } catch (err) {
        if (String(err) !== String(this.lastConnectError) && this.conn) {
          // Connected, but the streams could not be ensured (no JetStream, no permission).
          this.logger.warn(`cannot prepare streams: ${String(err)}`);
        } else if (!this.conn) {
          this.noteConnectFailure(err);
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

  /**
   * Whether the credential NATS just admitted may use this group (one request on its subjects,
   * {@link checkGroupAccess}): a valid join key of another group connects, then fails on every
   * subscription. On a refusal the connection is closed and the failure kept as permanent
   * (`connect` rejects with `NATS_REFUSED`); after an offline start it is logged and retried as
   * any refused credential is. Any other failure of the check is no verdict: the config watch
   * meets it again and reports it.
   */
  private async groupAdmits(nc: NatsConnection): Promise<boolean> {
    try {
      await checkGroupAccess(nc, this.names, this.group);
      return true;
    } catch (err) {
      if (!(err instanceof KonError && err.code === KonErrorCode.NatsRefused)) return true;
      this.conn = undefined;
      await nc.close().catch(() => undefined);
      // (The message names a fresh inbox each time: tell a repeat by its code.)
      const repeated =
        this.lastConnectError instanceof KonError &&
        this.lastConnectError.code === KonErrorCode.NatsRefused;
      this.lastConnectError = err;
      this.lastFailure = { why: err.message, permanent: true, refused: true, hint: "" };
      this.onPermanentFailure?.();
      if (this.startedOfflineAt !== undefined && !repeated) {
        this.logger.error(`still offline: ${err.message}`);
      }
      if (!this.closing) await new Promise((r) => setTimeout(r, 2000).unref());
      return false;
    }
  }

  /** Keeps the last failure; a permanent one ends `connect`'s wait, later ones are logged. */
  private noteConnectFailure(err: unknown): void {
    const failure = describeConnectFailure(err);
    const repeated = failure.why === this.lastFailure?.why;
    this.lastFailure = failure;
    if (failure.permanent) this.onPermanentFailure?.();
    if (this.startedOfflineAt !== undefined && !repeated) {
      this.logger.warn(
        `still offline: NATS ${failure.why}${failure.hint ? `; ${failure.hint}` : ""}`,
      );
    }
  }

  /** After an offline start: says when NATS was finally reached. */
  private sayOnline(): void {
    if (this.startedOfflineAt === undefined) return;
    const secs = ((Date.now() - this.startedOfflineAt) / 1000).toFixed(1);
    this.startedOfflineAt = undefined;
    this.logger.info(
      `connected to NATS at ${displayServers(this.options.servers)} after ${secs} s offline`,
    );
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

  private configHub: ConfigHub | undefined;

  /**
   * A typed, live view of config key `key` of this group, validated by `schema` (zod). Every
   * handle of this connection shares one watch on the group's bucket. Resolves once the key's
   * current value is known: from NATS, else from the last-known-good snapshot on disk, else
   * `opts.default`; rejects with `CONFIG_NOT_FOUND`, `CONFIG_INVALID` or `CONFIG_UNAVAILABLE`.
   * The source is `KON_CONFIG_SOURCE` (`nats`, or `file:<dir>`).
   */
  async config<S extends ConfigSchema>(
    key: string,
    schema: S,
    opts?: ConfigOptions<z.input<S>>,
  ): Promise<ConfigHandle<z.output<S>>> {
    return this.hub().open(key, schema, opts);
  }

  /** Current value of a key opened with {@link config} (undefined for any other key). */
  getConfig(key: string): unknown {
    return this.configHub?.current(key);
  }

  /**
   * Calls `listener` after each change set this process applied: every key of it is current and
   * every handle's handlers ran. @returns unsubscribe
   */
  onConfigChangeSet(listener: ChangeSetListener): () => void {
    return this.hub().onChangeSet(listener);
  }

  /**
   * The config hub, created with the first handle. With NATS as the source, an
   * {@link AppliedReporter} starts beside it: `config.applied` events tell analytics which
   * revision this node runs or holds pending (the rollout view).
   */
  private hub(): ConfigHub {
    if (this.configHub) return this.configHub;
    if (this.options.configSource === "nats") {
      const reporter = new AppliedReporter(
        this.applied,
        this.names,
        this.group,
        this.nodeId,
        this.logger,
      );
      void this.nats().then(
        (nc) => reporter.attach(nc),
        () => undefined,
      );
      // Registered before the hub's own hook, so it runs after it (hooks run in reverse).
      this.onClose(() => settlesWithin(reporter.stop(), 2000).then(() => undefined));
    }
    this.configHub = new ConfigHub(this);
    return this.configHub;
  }

  private heartbeatClient: HeartbeatClient | undefined;

  /**
   * Starts publishing heartbeats on `kon.hb.<group>.<node>`: seq, time, uptime, process info,
   * `meta`, and the revision of every config key in {@link applied}. The monitor declares the
   * node down after `ceil(intervalMs × misses / 1000)` s of silence (whole seconds, at least 1).
   *
   * Returns at once; beats start when connected, pause while disconnected and resume after.
   * `close()` stops them with a final leaving beat. In `file:` config mode (no NATS) the handle
   * is inert. One heartbeat per connection at a time; after `stop()` a new one may start and
   * continues the seq.
   *
   * @throws {@link KonError} `INVALID_OPTIONS` naming the bad field, `HEARTBEAT_META_TOO_LARGE`,
   *   `HEARTBEAT_RUNNING` if one is running, `CLOSED` after `close()`.
   */
  heartbeat(opts: HeartbeatOptions = {}): HeartbeatHandle {
    const options = parseHeartbeatOptions(opts);
    if (this.closing) throw new KonError(KonErrorCode.Closed, "Konorkestra connection closed");
    if (this.heartbeatClient?.running) {
      throw new KonError(
        KonErrorCode.HeartbeatRunning,
        `a heartbeat for node ${this.nodeId} is already running; stop() it first`,
      );
    }
    if (!this.heartbeatClient) this.onClose(() => this.heartbeatClient?.stop());
    const client = new HeartbeatClient(this, options, this.heartbeatClient);
    this.heartbeatClient = client;
    if (this.options.configSource === "nats") client.start();
    else this.logger.info(`heartbeats disabled: configSource is ${this.options.configSource}`);
    return client;
  }

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
    const nc = this.conn;
    if (nc && !nc.isClosed() && this.linkDown) {
      // Nothing can be flushed while NATS is away: close at once.
      await nc.close().catch(() => undefined);
    } else if (nc && !nc.isClosed()) {
      // drain() flushes through the server: while NATS refuses or cannot be reached it would wait
      // for ever (a service whose key was revoked must still stop), so it gets a bounded time.
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        nc.drain().then(
          () => true,
          () => false,
        ),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), CLOSE_DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) await nc.close().catch(() => undefined);
    }
  }
}

/** Longest wait for `close()`'s drain before the connection is closed without it. */
const CLOSE_DRAIN_MS = 5_000;

/** An authorization refusal of the connection itself (not a publish or subscribe permission). */
function isCredentialRefusal(err: Error): boolean {
  return (
    err.name === "AuthorizationError" ||
    err.name === "UserAuthenticationExpiredError" ||
    /authorization violation|authentication expired/i.test(err.message)
  );
}
