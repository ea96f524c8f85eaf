import type { ConfigEntry } from "@konorkestra/proto";
import type { z } from "zod";
import { KonError, KonErrorCode } from "../errors";
import type { Logger } from "../logger";
import { assertConfigKey } from "../wire/names";
import { ConfigHandle } from "./config-handle";
import type { HandleHost, HandleView, HandlerCall } from "./config-handle";
import type { ConfigHost } from "./config-host";
import { configUnavailable } from "./config-source";
import type { ConfigSource } from "./config-source";
import { ConfigState, refusalOf } from "./config-state";
import type { SlotRecord } from "./config-state";
import type { AppliedChangeSet, ConfigOptions, ConfigSchema } from "./config-types";
import { createConfigSource } from "./create-config-source";
import { deepFreeze } from "./deep-freeze";
import type { WatchTiming } from "./nats-config-watch";
import type { ChangeBatch } from "./raw-change";
import { runHandlerCalls } from "./handler-runner";
import { PendingActivations } from "./pending-activation";
import { RevisionTracker } from "./revision-tracker";
import { processServerClock } from "./server-clock";
import { FreshnessTracker } from "./stale-guard";

/** Listener of `kon.onConfigChangeSet`. */
export type ChangeSetListener = (set: AppliedChangeSet) => void | Promise<void>;

interface QueueItem {
  readonly batch: ChangeBatch;
  readonly after?: () => void;
  /** Scheduled values whose instant came (see {@link ConfigHub.process}). */
  readonly atInstant?: boolean;
}

/** @default handler timeout of a handle */
const HANDLER_TIMEOUT_MS = 30_000;

/**
 * The config plane of one connection and group: one {@link ConfigSource} (the group's bucket, or
 * a folder), the state of every key, and one queue that applies change sets in order — values
 * swapped for all keys of a set first, then every handler of that set, one after another — so no
 * handler sees half a commit and two swaps never interleave.
 */
export class ConfigHub implements HandleHost {
  readonly logger: Logger;
  private readonly state: ConfigState;
  private readonly source: ConfigSource;
  private readonly queue: QueueItem[] = [];
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  private readonly revisions = new RevisionTracker();
  /** Proofs that a key's value is the newest, for `cfg.guard`. */
  readonly freshness: FreshnessTracker;
  private readonly slotOf = new Map<HandleView, SlotRecord>();
  private readonly setListeners = new Set<ChangeSetListener>();
  private starting: Promise<void> | undefined;
  private closed = false;
  /** The NATS server's clock, which scheduled values are timed by. */
  private readonly clock = processServerClock();
  private readonly activations: PendingActivations;

  constructor(
    private readonly host: ConfigHost,
    watchTiming: Partial<WatchTiming> = {},
  ) {
    this.logger = host.logger;
    this.state = new ConfigState(host.applied, host.logger);
    this.activations = new PendingActivations(this.clock, {
      activate: (batch) => this.enqueue(batch, undefined, true),
      pendingChanged: (key, p) => this.state.setPending(key, p?.change, p?.activateAtMs ?? 0),
    });
    const sink = {
      deliver: this.enqueue.bind(this),
      idle: this.idle.bind(this),
      check: (entry: ConfigEntry) => this.state.check(entry),
      clock: this.clock,
    };
    this.source = createConfigSource(host, sink, watchTiming);
    this.freshness = new FreshnessTracker(this.source, this.revisions);
    host.onClose(() => this.stop());
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
      this.source.refuse(att.refusal);
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
      throw this.source.missing(key);
    }
    const handle = new ConfigHandle<z.output<S>>(
      key,
      att.record.slot,
      this,
      fallback,
      opts.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS,
    );
    if (att.refusal) {
      handle.refusalCalls(refusalOf(att.refusal, 0)); // no listener yet: remembered for `refused`
    }
    const pending = this.activations.get(key);
    if (pending) this.state.setPending(key, pending.change, pending.activateAtMs);
    att.record.handles.add(handle);
    this.slotOf.set(handle, att.record);
    const snap = this.state.snapshotEntry(key);
    if (snap) this.source.keep(key, snap);
    this.source.opened(key, schema);
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
    const latest = await this.source.freshen(key, timeoutMs);
    if (
      latest > this.revisions.revision &&
      !(await this.revisions.waitFor(latest, deadline - Date.now()))
    ) {
      throw configUnavailable(key, `revision ${latest} not applied within ${timeoutMs} ms`);
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
    this.activations.clear();
    this.clock.stop();
    await this.source.stop();
    this.revisions.cancelAll();
  }

  private async start(readyTimeoutMs: number): Promise<void> {
    this.starting ??= this.source.start(readyTimeoutMs).catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    await this.starting;
  }

  private enqueue(batch: ChangeBatch, after?: () => void, atInstant = false): void {
    this.queue.push({ batch, after, atInstant });
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        await this.process(item.batch, item.atInstant === true);
        item.after?.();
      }
    } finally {
      this.draining = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async process(delivered: ChangeBatch, atInstant: boolean): Promise<void> {
    const fromSnapshot = delivered.changes[0]?.origin === "snapshot";
    // Future-dated values wait for their instant; the rest is applied now.
    const batch = this.activations.intercept(delivered);
    let out;
    try {
      out = this.state.apply(batch);
    } catch (err) {
      this.logger.error(`applying config change set ${batch.changeSetId} failed: ${String(err)}`);
      return;
    }
    for (const r of out.rejections) this.source.refuse(r);
    for (const [key, entry] of out.snapshot) this.source.keep(key, entry);
    // The timer of an instant swaps every hub of the process due then in one synchronous pass
    // (pending-activation.ts); each one's handlers wait for the end of that pass, so no handler
    // runs while another connection of this process still holds the old value, and the handlers
    // of all of them then run back to back.
    if (atInstant) await Promise.resolve();
    const calls: HandlerCall[] = [];
    for (const n of out.notifications) {
      for (const h of n.handles) calls.push(...h.callsFor(n.prev, n.meta));
    }
    for (const r of out.refused) {
      for (const h of this.state.handlesOf(r.key)) calls.push(...h.refusalCalls(r));
    }
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
      for (const c of delivered.changes) this.revisions.advance(c.revision);
    }
  }

  /** Resolves when nothing is queued or being applied. */
  private idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
