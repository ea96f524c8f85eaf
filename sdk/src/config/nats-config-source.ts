import { KonError } from "../errors";
import { ensureConfigBucket } from "../wire/buckets";
import { ChangeSetAssembler } from "./change-set-assembler";
import type { ConfigHost } from "./config-host";
import { ConfigSnapshotStore, snapshotToBatch } from "./config-snapshot-store";
import type { LoadedSnapshot, SnapshotEntry } from "./config-snapshot-store";
import { configNotFound, configUnavailable } from "./config-source";
import type { ConfigSink, ConfigSource } from "./config-source";
import type { ConfigSchema } from "./config-types";
import { NatsConfigWatch } from "./nats-config-watch";
import type { WatchTiming } from "./nats-config-watch";
import { settlesWithin, withTimeout } from "./race-timeout";
import { RejectionReporter } from "./rejection-reporter";
import type { Rejection } from "./rejection-reporter";
import { PrepareResponder } from "./prepare-responder";
import type { ChangeBatch } from "./raw-change";
import { revisionFetcher, splitScheduledLoad } from "./scheduled-load";
import { registerConfigSchema } from "./schema-registration";
import type { SourceContact } from "./stale-guard";

/** A batch for the sink, and what to run right after it was applied. */
interface Delivery {
  batch: ChangeBatch;
  after?: () => void;
}

/**
 * Config from the group's KV bucket through one shared {@link NatsConfigWatch}, live changes
 * grouped into change sets. While NATS does not answer, the last-known-good snapshot on disk
 * stands in; NATS replaces it as soon as it loads. Refusals go out as `config.rejected` events
 * and opened schemas are registered in `kon_schemas`.
 */
export class NatsConfigSource implements ConfigSource {
  private readonly assembler: ChangeSetAssembler;
  private readonly store: ConfigSnapshotStore;
  private readonly reporter: RejectionReporter;
  private readonly schemasDone = new WeakMap<ConfigSchema, Set<string>>();
  private watch: NatsConfigWatch | undefined;
  private liveReady: Promise<void> = new Promise(() => undefined);
  private markLiveLoaded: () => void = () => undefined;
  /** The first load from NATS is queued: an older snapshot must not follow it. */
  private liveQueued = false;
  /** ... and applied. */
  private liveLoaded = false;
  private stopped = false;
  /** What start() found on disk ("none" when there was no snapshot). */
  private disk: LoadedSnapshot | "none" | undefined;
  /** Set while handles run on the snapshot, until NATS's first load replaces it. */
  private onSnapshotSince: Date | undefined;
  /** Votes on the group's STRONG writes. */
  private readonly responder: PrepareResponder | undefined;
  /** Deliveries wait behind a load that fetches previous revisions, so order is kept. */
  private ordered: Promise<void> = Promise.resolve();
  private orderedPending = 0;

  constructor(
    private readonly host: ConfigHost,
    private readonly sink: ConfigSink,
    private readonly timing: Partial<WatchTiming> = {},
  ) {
    this.assembler = new ChangeSetAssembler(
      (b) => this.deliverInOrder(() => [{ batch: b }]),
      host.logger,
    );
    const check = sink.check?.bind(sink);
    this.responder = check
      ? new PrepareResponder(host.names, host.group, host.nodeId, check, host.logger)
      : undefined;
    this.store = new ConfigSnapshotStore(
      host.options.snapshotDir,
      host.names.prefix,
      host.group,
      host.logger,
      host.options.servers,
    );
    this.reporter = new RejectionReporter(host.names, host.group, host.nodeId, host.logger);
  }

  /** @throws {@link KonError} `SNAPSHOT_DIR_UNSAFE` when the snapshot could be someone else's */
  async start(readyTimeoutMs: number): Promise<void> {
    const disk = await this.store.load();
    this.disk = disk ?? "none";
    this.liveReady = this.startLive();
    if (this.host.online && (await settlesWithin(this.liveReady, readyTimeoutMs))) return;
    const why = this.host.online
      ? `initial load not done within ${readyTimeoutMs} ms`
      : "NATS unreachable";
    if (disk) {
      this.host.logger.warn(
        `starting on last-known-good snapshot from ${disk.savedAt.toISOString()} (${this.store.path}): ${why}; catching up when NATS answers`,
      );
      if (!this.liveQueued) {
        this.onSnapshotSince = new Date();
        this.sink.deliver(snapshotToBatch(disk));
      }
    } else {
      this.host.logger.warn(
        `${why}, and this host has no last-known-good snapshot of group ${this.host.group} yet (${this.store.path} is written after the first load from NATS)`,
      );
    }
    await this.sink.idle();
  }

  async freshen(key: string, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    if (!this.liveLoaded && !(await settlesWithin(this.liveReady, timeoutMs))) {
      throw configUnavailable(key, `NATS not reachable within ${timeoutMs} ms`);
    }
    const watch = this.watch;
    if (!watch) throw configUnavailable(key, "NATS not reachable");
    const latest = await withTimeout(watch.latestRevision(key), deadline - Date.now(), () =>
      configUnavailable(key, `no answer from NATS within ${timeoutMs} ms`),
    ).catch((err: unknown) => {
      throw err instanceof KonError ? err : configUnavailable(key, String(err));
    });
    if (latest > watch.deliveredRevision) watch.checkNow();
    return latest;
  }

  contact(): SourceContact | undefined {
    const watch = this.watch;
    if (!this.liveLoaded || !watch) return undefined;
    return { atMs: watch.lastServerContactMs, deliveredRevision: watch.deliveredRevision };
  }

  missing(key: string): KonError {
    if (!this.liveLoaded) {
      const why = this.host.online ? "no initial load from NATS yet" : "NATS unreachable";
      const snapshot =
        this.disk === "none" || this.disk === undefined
          ? `there is no last-known-good snapshot of group ${this.host.group} on this host yet (none at ${this.store.path})`
          : `the last-known-good snapshot ${this.store.path} from ${this.disk.savedAt.toISOString()} has no key ${key}`;
      return configUnavailable(key, `${why}, and ${snapshot}`);
    }
    return configNotFound(key, `bucket ${this.host.names.configBucket(this.host.group)}`);
  }

  keep(key: string, value: SnapshotEntry): void {
    this.store.record(key, value);
  }

  refuse(rejection: Rejection): void {
    this.reporter.report(rejection);
  }

  opened(key: string, schema: ConfigSchema): void {
    const keys = this.schemasDone.get(schema) ?? new Set<string>();
    if (keys.has(key)) return;
    keys.add(key);
    this.schemasDone.set(schema, keys);
    const { names, group, nodeId, options, logger } = this.host;
    void this.host
      .nats()
      .then((nc) =>
        registerConfigSchema(
          nc,
          names,
          { group, key, schema, service: options.service, nodeId },
          options.replicas,
        ),
      )
      .then((wrote) => {
        if (wrote) logger.info(`registered the JSON Schema of config ${group}.${key}`);
      })
      .catch((err: unknown) => {
        if (!this.stopped) {
          logger.warn(`cannot register the JSON Schema of config ${key}: ${String(err)}`);
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.responder?.stop();
    await this.watch?.stop();
    this.assembler.clear();
    await this.store.flush();
    await settlesWithin(this.reporter.flush(), 2000);
  }

  /**
   * Hands batches to the sink in the order they were produced, even when producing one takes a
   * round trip (a load fetching previous revisions); without such a wait, straight through.
   */
  private deliverInOrder(make: () => Delivery[] | Promise<Delivery[]>): void {
    if (this.orderedPending === 0) {
      const now = make();
      if (Array.isArray(now)) {
        for (const d of now) this.sink.deliver(d.batch, d.after);
        return;
      }
      this.ordered = Promise.resolve();
      return this.chain(() => now);
    }
    this.chain(make);
  }

  private chain(make: () => Delivery[] | Promise<Delivery[]>): void {
    this.orderedPending++;
    this.ordered = this.ordered
      .then(make)
      .then(
        (items) => {
          for (const d of items) this.sink.deliver(d.batch, d.after);
        },
        (err: unknown) => this.host.logger.error(`config delivery failed: ${String(err)}`),
      )
      .finally(() => this.orderedPending--);
  }

  /** Says once that the handles no longer run on the snapshot. */
  private leftSnapshot(keys: number): void {
    const since = this.onSnapshotSince;
    if (!since) return;
    this.onSnapshotSince = undefined;
    const secs = ((Date.now() - since.getTime()) / 1000).toFixed(1);
    this.host.logger.info(
      `left snapshot mode: config of group ${this.host.group} is live from NATS again (${keys} keys loaded from bucket ${this.host.names.configBucket(this.host.group)}) after ${secs} s on the snapshot`,
    );
  }

  /** Connects the watch (waiting for NATS as long as it takes); resolves after its first load. */
  private async startLive(): Promise<void> {
    const nc = await this.host.nats().catch(() => undefined);
    if (!nc || this.stopped) return;
    const { names, group, options, logger } = this.host;
    await ensureConfigBucket(nc, names, group, { replicas: options.replicas }).catch((err) =>
      logger.warn(`cannot create or update config bucket of ${group}: ${String(err)}`),
    );
    if (this.stopped) return;
    this.reporter.attach(nc);
    const bucket = names.configBucket(group);
    await this.sink.clock?.start(nc, `KV_${bucket}`, logger);
    this.responder?.start(nc);
    const fetch = revisionFetcher(nc, bucket);
    const loaded = new Promise<void>((resolve) => (this.markLiveLoaded = resolve));
    this.watch = new NatsConfigWatch(
      nc,
      bucket,
      {
        loaded: (changes) => {
          this.assembler.clear();
          this.liveQueued = true;
          this.deliverInOrder(async () => {
            const split = this.sink.clock
              ? await splitScheduledLoad(changes, this.sink.clock, fetch, logger)
              : { load: changes, scheduled: [] };
            const load: ChangeBatch = {
              kind: "load",
              changes: split.load,
              changeSetId: "initial",
              complete: true,
            };
            const after = (): void => {
              this.liveLoaded = true;
              this.leftSnapshot(changes.length);
              this.markLiveLoaded();
            };
            // Scheduled values follow the load, so they are pending when the first open returns.
            const items: Delivery[] = [{ batch: load }];
            for (const c of split.scheduled) {
              items.push({ batch: { kind: "set", changes: [c], changeSetId: c.changeSetId } });
            }
            items[items.length - 1]!.after = after;
            return items;
          });
        },
        live: (change) => this.assembler.push(change),
      },
      logger,
      this.timing,
    );
    await this.watch.start();
    await loaded;
  }
}
