import { join } from "node:path";
import type { z } from "zod";
import { ensureConfigBucket } from "../wire/buckets";
import { KonError, KonErrorCode } from "../errors";
import type { Logger } from "../logger";
import { assertConfigKey } from "../wire/names";
import { ChangeSetAssembler } from "./change-set-assembler";
import { ConfigHandle } from "./config-handle";
import type { HandleHost, HandleView } from "./config-handle";
import type { ConfigHost } from "./config-host";
import { ConfigSnapshotStore, snapshotToBatch } from "./config-snapshot-store";
import { ConfigState } from "./config-state";
import type { SlotRecord } from "./config-state";
import type { AppliedChangeSet, ConfigOptions, ConfigSchema } from "./config-types";
import { deepFreeze } from "./deep-freeze";
import { FileConfigSource } from "./file-config-source";
import { NatsConfigWatch } from "./nats-config-watch";
import type { WatchTiming } from "./nats-config-watch";
import { settlesWithin, withTimeout } from "./race-timeout";
import type { ChangeBatch } from "./raw-change";
import { runHandlerCalls } from "./handler-runner";
import { RejectionReporter } from "./rejection-reporter";
import { RevisionTracker } from "./revision-tracker";
import type { Rejection } from "./rejection-reporter";
import { registerConfigSchema } from "./schema-registration";

/** Listener of `kon.onConfigChangeSet`. */
export type ChangeSetListener = (set: AppliedChangeSet) => void | Promise<void>;

interface QueueItem {
  readonly batch: ChangeBatch;
  readonly after?: () => void;
}

/** @default handler timeout of a handle */
const HANDLER_TIMEOUT_MS = 30_000;

/**
 * The config plane of one connection and group: one source (a shared NATS watch, or a folder),
 * the state of every key, and one queue that applies change sets in order — values swapped for
 * all keys of a set first, then every handler of that set, one after another — so no handler
 * sees half a commit and two swaps never interleave.
 */
export class ConfigHub implements HandleHost {
  readonly logger: Logger;
  /** For tests and diagnostics: the shared NATS watch, once started. */
  watch: NatsConfigWatch | undefined;
  private readonly state: ConfigState;
  private readonly assembler: ChangeSetAssembler;
  private readonly store: ConfigSnapshotStore;
  private readonly reporter: RejectionReporter;
  private readonly queue: QueueItem[] = [];
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  private readonly revisions = new RevisionTracker();
  private readonly slotOf = new Map<HandleView, SlotRecord>();
  private readonly setListeners = new Set<ChangeSetListener>();
  private readonly schemasDone = new WeakMap<ConfigSchema, Set<string>>();
  private starting: Promise<void> | undefined;
  private liveReady: Promise<void> = new Promise(() => undefined);
  private markLiveLoaded: () => void = () => undefined;
  private liveLoaded = false;
  private file: FileConfigSource | undefined;
  private closed = false;

  constructor(
    private readonly host: ConfigHost,
    private readonly watchTiming: Partial<WatchTiming> = {},
  ) {
    this.logger = host.logger;
    this.state = new ConfigState(host.applied, host.logger);
    this.assembler = new ChangeSetAssembler((b) => this.enqueue(b), host.logger);
    this.store = new ConfigSnapshotStore(
      host.options.snapshotDir,
      host.names.prefix,
      host.group,
      host.logger,
    );
    this.reporter = new RejectionReporter(host.names, host.group, host.nodeId, host.logger);
    host.onClose(() => this.stop());
  }

  /** Path of this group's last-known-good snapshot. */
  get snapshotPath(): string {
    return this.store.path;
  }

  async open<S extends ConfigSchema>(
    key: string,
    schema: S,
    opts: ConfigOptions<z.input<S>> = {},
  ): Promise<ConfigHandle<z.output<S>>> {
    assertConfigKey(key);
    const fallback =
      opts.default === undefined ? undefined : parseDefault(key, schema, opts.default);
    if (this.closed || this.host.closed) {
      throw new KonError(KonErrorCode.Closed, "Konorkestra connection closed");
    }
    await this.start(opts.readyTimeoutMs ?? Math.max(this.host.options.connectTimeoutMs, 5000));
    const att = this.state.attach(key, schema);
    if (att.refusal) {
      this.reportRejection(att.refusal);
      if (fallback === undefined) {
        this.state.detach(key, att.record);
        throw new KonError(
          KonErrorCode.ConfigInvalid,
          `config ${key} revision ${att.refusal.revision} is refused: ${att.refusal.reason}`,
        );
      }
    }
    if (att.record.slot.value === undefined && fallback === undefined) {
      this.state.detach(key, att.record);
      throw this.notFound(key);
    }
    const handle = new ConfigHandle<z.output<S>>(
      key,
      att.record.slot,
      this,
      fallback,
      opts.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS,
    );
    att.record.handles.add(handle);
    this.slotOf.set(handle, att.record);
    const snap = this.state.snapshotEntry(key);
    if (snap && !this.file) this.store.record(key, snap);
    this.registerSchema(key, schema);
    return handle;
  }

  /** Current value of an opened key. */
  current(key: string): unknown {
    return this.state.current(key);
  }

  onChangeSet(listener: ChangeSetListener): () => void {
    this.setListeners.add(listener);
    return () => this.setListeners.delete(listener);
  }

  release(handle: HandleView): void {
    const rec = this.slotOf.get(handle);
    if (!rec) return;
    this.slotOf.delete(handle);
    this.state.detach(handle.key, rec, handle);
  }

  async ensureFresh(key: string, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let latest = 0;
    if (this.file) {
      await this.file.rescan();
      await this.idle();
    } else {
      if (!this.liveLoaded && !(await settlesWithin(this.liveReady, timeoutMs))) {
        throw this.unavailable(key, `NATS not reachable within ${timeoutMs} ms`);
      }
      const watch = this.watch!;
      latest = await withTimeout(watch.latestRevision(key), deadline - Date.now(), () =>
        this.unavailable(key, `no answer from NATS within ${timeoutMs} ms`),
      ).catch((err: unknown) => {
        throw err instanceof KonError ? err : this.unavailable(key, String(err));
      });
      if (latest > this.revisions.revision) {
        watch.checkNow();
        if (!(await this.revisions.waitFor(latest, deadline - Date.now()))) {
          throw this.unavailable(key, `revision ${latest} not applied within ${timeoutMs} ms`);
        }
      }
    }
    const ap = this.host.applied.get(key);
    if (
      ap?.rejectedRevision &&
      ap.rejectedRevision > ap.revision &&
      ap.rejectedRevision >= latest
    ) {
      throw new KonError(
        KonErrorCode.ConfigInvalid,
        `config ${key}: newest revision ${ap.rejectedRevision} was refused by this service's schema; running revision ${ap.revision}`,
      );
    }
    return ap?.revision ?? 0;
  }

  /** Stops the source, saves the snapshot and sends queued events (close hook). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watch?.stop();
    await this.file?.stop();
    this.assembler.clear();
    await this.store.flush();
    await settlesWithin(this.reporter.flush(), 2000);
    this.revisions.cancelAll();
  }

  private async start(readyTimeoutMs: number): Promise<void> {
    this.starting ??= this.doStart(readyTimeoutMs).catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    await this.starting;
  }

  private async doStart(readyTimeoutMs: number): Promise<void> {
    const source = this.host.options.configSource;
    if (source.startsWith("file:")) {
      const root = join(source.slice("file:".length), this.host.group);
      this.file = new FileConfigSource(root, this.host.group, (b) => this.enqueue(b), this.logger);
      await this.file.start();
      await this.idle();
      return;
    }
    const disk = await this.store.load();
    this.liveReady = this.startLive();
    if (this.host.online && (await settlesWithin(this.liveReady, readyTimeoutMs))) return;
    const why = this.host.online
      ? `initial load not done within ${readyTimeoutMs} ms`
      : "NATS unreachable";
    if (disk) {
      this.logger.warn(
        `starting on last-known-good snapshot from ${disk.savedAt.toISOString()} (${this.store.path}): ${why}; catching up when NATS answers`,
      );
      this.enqueue(snapshotToBatch(disk));
    } else {
      this.logger.warn(`${why} and no config snapshot at ${this.store.path}`);
    }
    await this.idle();
  }

  /** Connects the shared watch (waiting for NATS as long as it takes); resolves after its first load. */
  private async startLive(): Promise<void> {
    const nc = await this.host.nats().catch(() => undefined);
    if (!nc || this.closed) return;
    const { names, group, options } = this.host;
    await ensureConfigBucket(nc, names, group, { replicas: options.replicas }).catch((err) =>
      this.logger.warn(`cannot create or update config bucket of ${group}: ${String(err)}`),
    );
    if (this.closed) return;
    this.reporter.attach(nc);
    const loaded = new Promise<void>((resolve) => (this.markLiveLoaded = resolve));
    this.watch = new NatsConfigWatch(
      nc,
      names.configBucket(group),
      {
        loaded: (changes) => {
          this.assembler.clear();
          const batch: ChangeBatch = {
            kind: "load",
            changes,
            changeSetId: "initial",
            complete: true,
          };
          this.enqueue(batch, () => {
            this.liveLoaded = true;
            this.markLiveLoaded();
          });
        },
        live: (change) => this.assembler.push(change),
      },
      this.logger,
      this.watchTiming,
    );
    await this.watch.start();
    await loaded;
  }

  private enqueue(batch: ChangeBatch, after?: () => void): void {
    this.queue.push({ batch, after });
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        await this.process(item.batch);
        item.after?.();
      }
    } finally {
      this.draining = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async process(batch: ChangeBatch): Promise<void> {
    const fromSnapshot = batch.changes[0]?.origin === "snapshot";
    if (fromSnapshot && this.liveLoaded) return; // NATS answered first; the snapshot is older
    let out;
    try {
      out = this.state.apply(batch);
    } catch (err) {
      this.logger.error(`applying config change set ${batch.changeSetId} failed: ${String(err)}`);
      return;
    }
    for (const r of out.rejections) this.reportRejection(r);
    if (!this.file) for (const [key, entry] of out.snapshot) this.store.record(key, entry);
    const calls = out.notifications.flatMap((n) => n.handle.callsFor(n.prev, n.meta));
    if (calls.length > 0) await runHandlerCalls(calls, this.logger);
    if (Object.keys(out.accepted).length > 0 && this.setListeners.size > 0) {
      const set: AppliedChangeSet = Object.freeze({
        id: batch.changeSetId,
        revisions: Object.freeze(out.accepted),
        origin: batch.changes[0]?.origin ?? "nats",
      });
      await runHandlerCalls(
        [...this.setListeners].map((l) => ({
          label: "onConfigChangeSet",
          run: () => l(set),
          timeoutMs: HANDLER_TIMEOUT_MS,
        })),
        this.logger,
      );
    }
    if (!fromSnapshot) {
      for (const c of batch.changes) this.revisions.advance(c.revision);
    }
  }

  /** Resolves when nothing is queued or being applied. */
  private idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private reportRejection(r: Rejection): void {
    // A folder source has no NATS to report to; the refusal is in the log already.
    if (!this.file) this.reporter.report(r);
  }

  private registerSchema(key: string, schema: ConfigSchema): void {
    if (this.file) return;
    const keys = this.schemasDone.get(schema) ?? new Set<string>();
    if (keys.has(key)) return;
    keys.add(key);
    this.schemasDone.set(schema, keys);
    const { names, group, nodeId, options } = this.host;
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
        if (wrote) this.logger.info(`registered the JSON Schema of config ${group}.${key}`);
      })
      .catch((err: unknown) => {
        if (!this.closed) {
          this.logger.warn(`cannot register the JSON Schema of config ${key}: ${String(err)}`);
        }
      });
  }

  private notFound(key: string): KonError {
    if (!this.file && !this.liveLoaded) {
      return this.unavailable(key, `NATS unreachable and the snapshot ${this.store.path} lacks it`);
    }
    const where = this.file
      ? "the config folder"
      : `bucket ${this.host.names.configBucket(this.host.group)}`;
    return new KonError(
      KonErrorCode.ConfigNotFound,
      `config key ${key} does not exist in ${where} (pass opts.default to start without it)`,
    );
  }

  private unavailable(key: string, why: string): KonError {
    return new KonError(KonErrorCode.ConfigUnavailable, `config ${key}: ${why}`);
  }
}

function parseDefault(key: string, schema: ConfigSchema, value: unknown): unknown {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `invalid option default of config ${key}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.trim(),
    );
  }
  return deepFreeze(r.data);
}
