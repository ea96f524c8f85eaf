import { stat } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import { KonError } from "@konorkestra/sdk";
import {
  HttpEdge,
  ReadCache,
  createHardenedServer,
  groupNameProblem,
  readSecretFile,
  readHttpLimits,
  resolveRoot,
  scanGroup,
  scanTree,
  taggedLogger,
  wireNames,
} from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import type { GroupScan, WireNames } from "@konorkestra/sdk/internal";
import { FolderRejections } from "./folder-rejections";
import type { BadFolder } from "./folder-rejections";
import { FolderWatcher } from "./folder-watcher";
import type { FolderChange } from "./folder-watcher";
import { GroupSynchronizer } from "./group-sync";
import type { GroupSyncResult } from "./group-sync";
import { createAdminApp } from "./http";
import type { AdminHttpGuards } from "./http";
import { LoaderMetrics } from "./loader-metrics";
import { NatsConfigStore } from "./nats-config-store";
import { connectWithRetry } from "./nats-session";
import type { NatsSession } from "./nats-session";
import { parseConfigLoaderOptions } from "./options";
import type { ConfigLoaderOptions, ResolvedLoaderOptions } from "./options";
import type { LoaderHealth, ReconcileReport } from "./reconcile-report";
import { RejectionLog } from "./rejection-log";
import { KvSchemaRegistry } from "./schema-registry";
import { PrepareCoordinator } from "./prepare-coordinator";
import { StrongWriter } from "./strong-writer";
import { WritePolicies } from "./write-policy";

const consoleSink: Logger = { info: console.log, warn: console.warn, error: console.error };

/**
 * The config-loader: watches the config folder, publishes every group folder to its KV bucket
 * `cfg_<group>` and serves the admin API. Reconcile passes run one at a time; a failed pass is
 * retried with backoff and a full pass runs every `resyncMs` as a safety net.
 */
export class ConfigLoader {
  readonly options: ResolvedLoaderOptions;
  readonly names: WireNames;
  readonly logger: Logger;
  private readonly metrics = new LoaderMetrics();
  private readonly rejections = new RejectionLog();
  private readonly cache = new ReadCache();
  private readonly watcher: FolderWatcher;
  private readonly badFolders: FolderRejections;
  private session: NatsSession | undefined;
  private store: NatsConfigStore | undefined;
  private schemas: KvSchemaRegistry | undefined;
  private sync: GroupSynchronizer | undefined;
  private lastRereadAtMs = Date.now();
  private connected = false;
  private server: Server | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Groups seen on disk by this process: when their folder goes, their keys go. */
  private readonly knownGroups = new Set<string>();
  private readonly loggedOnce = new Set<string>();
  private lastReport: ReconcileReport | undefined;
  private lastSuccessAtMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 250;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private connecting: Promise<void> | undefined;
  private readonly readyWaiters: ((r: ReconcileReport) => void)[] = [];
  private readonly httpGuards: AdminHttpGuards;

  constructor(options: ResolvedLoaderOptions, logger: Logger = consoleSink) {
    this.options = options;
    this.names = wireNames(options.prefix);
    this.logger = taggedLogger(logger, "config-loader");
    // A secret file that cannot be read stops the loader here, before it serves anything.
    const secretFile = options.webhookSecretFile;
    this.httpGuards = {
      edge: new HttpEdge(options),
      webhookSecret:
        secretFile === undefined ? undefined : readSecretFile(secretFile, "webhook secret"),
    };
    this.watcher = new FolderWatcher({
      root: options.configDir,
      debounceMs: options.debounceMs,
      debounceMaxMs: options.debounceMaxMs,
      logger: this.logger,
      onChange: (c) => this.onFolderChange(c),
    });
    this.badFolders = new FolderRejections(
      () => this.store,
      this.rejections,
      this.logger,
      (code) => this.metrics.recordRejection(code),
    );
  }

  get metricsRegistry(): Registry {
    return this.metrics.registry;
  }

  /** Admin API base URL, once started. */
  get url(): string {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    return addr ? `http://${this.options.host}:${addr.port}` : "";
  }

  /** The NATS connection, once connected. */
  get connection(): NatsConnection | undefined {
    return this.session?.nc;
  }

  /**
   * Starts the admin API and the folder watch, and connects in the background (never fails
   * because NATS or the folder is missing: /healthz says 503 and the loader retries). Throws only
   * when the admin port cannot be bound.
   */
  async start(): Promise<void> {
    this.server = await this.listen();
    await this.watcher.start();
    if (this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => void this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
    this.connecting = connectWithRetry(
      this.options,
      this.names,
      this.logger,
      {
        onReady: (s) => this.onSession(s),
        onConnectionChange: (up) => this.onConnectionChange(up),
      },
      () => this.stopping,
    );
    this.logger.info(`watching ${this.options.configDir}; admin API on ${this.url}`);
    if (this.httpGuards.webhookSecret === undefined) {
      this.logger.warn("no KON_LOADER_WEBHOOK_SECRET_FILE: POST /v1/_refresh is off (403)");
    }
  }

  private listen(): Promise<Server> {
    return new Promise((resolve, reject) => {
      // Header and request timeouts (KON_HTTP_*): a client dribbling its headers is cut.
      const server = createHardenedServer(
        createAdminApp(this, this.httpGuards),
        readHttpLimits(),
      ).listen(this.options.port, this.options.host);
      server.once("listening", () => resolve(server));
      server.once("error", (err) =>
        reject(
          new Error(`cannot listen on ${this.options.host}:${this.options.port}: ${err.message}`),
        ),
      );
    });
  }

  private onSession(s: NatsSession): void {
    this.session = s;
    const store = new NatsConfigStore(s.nc, this.names, {
      ...this.options,
      onForged: (group, key, revision) => {
        this.metrics.recordForged();
        this.logger.warn(
          `group ${group}: key ${key} revision ${revision} claims a sha256 that is not its payload's (forged or corrupt); not trusted, the file's value is published again`,
        );
      },
    });
    const schemas = new KvSchemaRegistry(s.schemas, this.logger, { nc: s.nc, names: this.names });
    this.store = store;
    this.schemas = schemas;
    const coordinator = new PrepareCoordinator(
      s.nc,
      this.names,
      this.options.loaderId,
      this.logger,
    );
    this.sync = new GroupSynchronizer(
      store,
      schemas,
      this.rejections,
      this.options,
      this.logger,
      this.cache,
      {
        policies: new WritePolicies(this.logger),
        strong: new StrongWriter(store, () => coordinator, this.logger),
      },
    );
    this.onConnectionChange(true);
    this.logger.info(`connected to NATS ${s.nc.getServer()}`);
  }

  private onConnectionChange(up: boolean): void {
    this.connected = up;
    this.metrics.setConnected(up);
    // After an outage the bucket may have changed (restored, rolled back by hand): check it all.
    if (up) void this.reconcile("full");
  }

  /** Resolves with the first successful reconcile (or at once if one already succeeded). */
  whenReady(): Promise<ReconcileReport> {
    if (this.lastReport?.ok) return Promise.resolve(this.lastReport);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  health(): LoaderHealth {
    const lastReconcileOk = this.lastReport?.ok ?? false;
    const base = {
      connected: this.connected,
      lastReconcileOk,
      lastSuccessAtMs: this.lastSuccessAtMs,
    };
    if (!this.connected) return { ok: false, ...base, reason: "not connected to NATS" };
    if (!this.lastReport) return { ok: false, ...base, reason: "no reconcile yet" };
    if (!lastReconcileOk) {
      return {
        ok: false,
        ...base,
        reason: `last reconcile failed: ${this.lastReport.error?.message ?? "?"}`,
      };
    }
    return { ok: true, ...base };
  }

  /** Queues a reconcile pass over every group (`full`) or the given groups. Never rejects. */
  reconcile(scope: "full" | ReadonlySet<string>): Promise<ReconcileReport> {
    const run = this.queue.then(() => this.pass(scope));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private onFolderChange(change: FolderChange): void {
    void this.reconcile(change.full ? "full" : change.groups);
  }

  private async resync(): Promise<void> {
    await this.watcher.checkRoot();
    if (this.options.rereadMs > 0 && Date.now() - this.lastRereadAtMs >= this.options.rereadMs) {
      this.forgetCaches();
    }
    await this.reconcile("full");
  }

  /** The slow safety net: the next pass reads and parses every file and every bucket again. */
  forgetCaches(): void {
    this.lastRereadAtMs = Date.now();
    this.cache.clear();
    this.store?.forget();
    this.schemas?.forget();
  }

  private async pass(scope: "full" | ReadonlySet<string>): Promise<ReconcileReport> {
    const kind = scope === "full" ? "full" : "partial";
    const report: ReconcileReport = {
      scope: kind,
      ok: false,
      startedAtMs: Date.now(),
      durationMs: 0,
      groups: [],
    };
    try {
      if (this.stopping) throw new Error("stopping");
      if (!this.sync || !this.connected) throw new Error("not connected to NATS");
      const sync = this.sync;
      const targets = scope === "full" ? await this.scanAll() : await this.scanSome(scope);
      // One group's failure (a bucket it cannot write) must not hold back the others.
      for (const [group, scan] of targets) {
        try {
          const result: GroupSyncResult = await sync.sync(group, scan);
          this.metrics.recordGroup(result);
          report.groups.push(result);
          if (scan) this.knownGroups.add(group);
          else this.knownGroups.delete(group);
        } catch (err) {
          report.error ??= errorOf(err, `group ${group}: `);
        }
      }
      report.ok = report.error === undefined;
    } catch (err) {
      report.error = errorOf(err);
    }
    return this.finish(report);
  }

  private finish(report: ReconcileReport): ReconcileReport {
    report.durationMs = Date.now() - report.startedAtMs;
    this.metrics.recordReconcile(report.scope, report.ok, report.durationMs / 1000);
    this.lastReport = report;
    if (report.ok) {
      this.lastSuccessAtMs = Date.now();
      this.retryDelay = 250;
      for (const w of this.readyWaiters.splice(0)) w(report);
    } else if (!this.stopping) {
      this.logOnce(`reconcile failed (retrying): ${report.error?.message ?? "?"}`);
      this.scheduleRetry();
    }
    return report;
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile("full");
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 10_000);
  }

  /** Every group folder, plus known groups whose folder is gone (scan undefined). */
  private async scanAll(): Promise<Map<string, GroupScan | undefined>> {
    const tree = await scanTree(this.options.configDir);
    await this.badFolders.report(tree.skipped, true);
    const out = new Map<string, GroupScan | undefined>(tree.groups);
    for (const g of this.knownGroups) if (!out.has(g)) out.set(g, undefined);
    this.noteProblems(tree.groups.values());
    return out;
  }

  private async scanSome(groups: ReadonlySet<string>): Promise<Map<string, GroupScan | undefined>> {
    const realRoot = await resolveRoot(this.options.configDir);
    const out = new Map<string, GroupScan | undefined>();
    const bad: BadFolder[] = [];
    for (const g of [...groups].sort()) {
      const problem = groupNameProblem(g);
      if (problem) {
        const isDir = await stat(join(realRoot, g)).then(
          (st) => st.isDirectory(),
          () => false,
        );
        if (isDir) bad.push({ name: g, reason: problem });
        continue;
      }
      const scan = await scanGroup(realRoot, g);
      if (scan || this.knownGroups.has(g)) out.set(g, scan);
    }
    this.noteProblems([...out.values()].filter((s): s is GroupScan => s !== undefined));
    await this.badFolders.report(bad, false);
    return out;
  }

  private noteProblems(scans: Iterable<GroupScan>): void {
    for (const s of scans) for (const p of s.problems) this.logOnce(`group ${s.group}: ${p}`);
  }

  private logOnce(msg: string): void {
    if (this.loggedOnce.has(msg)) return;
    if (this.loggedOnce.size > 10_000) this.loggedOnce.clear();
    this.loggedOnce.add(msg);
    this.logger.warn(msg);
  }

  /** Stops watching, lets a pass in progress finish, closes the admin API and NATS. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    await this.watcher.stop();
    await this.queue;
    await this.connecting;
    if (this.server) {
      const server = this.server;
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
    const nc = this.session?.nc;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    this.connected = false;
    this.logger.info("stopped");
  }
}

function errorOf(err: unknown, prefix = ""): { code: string; message: string } {
  return {
    code: err instanceof KonError ? err.code : "RECONCILE_FAILED",
    message: prefix + (err instanceof Error ? err.message : String(err)),
  };
}

/** Options given, then KON_* environment, validated; the loader is not started yet. */
export function createConfigLoader(
  options: ConfigLoaderOptions = {},
  logger?: Logger,
): ConfigLoader {
  return new ConfigLoader(parseConfigLoaderOptions(options), logger);
}
