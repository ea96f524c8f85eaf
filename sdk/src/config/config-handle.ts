import type { Logger } from "../logger";
import type {
  ChangeHandler,
  ConfigMeta,
  ConfigOrigin,
  ConfigRefusal,
  DeepReadonly,
  PendingConfig,
  RefusalHandler,
  SliceHandler,
} from "./config-types";
import { guardRun } from "./stale-guard";
import type { FreshnessTracker, GuardOptions } from "./stale-guard";
import { stableHash } from "./stable-hash";
import { DEFAULT_META } from "./value-slot";
import type { ValueSlot } from "./value-slot";

/** What a handle needs from the hub that created it. */
export interface HandleHost {
  ensureFresh(key: string, timeoutMs: number): Promise<number>;
  readonly freshness: FreshnessTracker;
  release(handle: HandleView): void;
  readonly logger: Logger;
}

/** A handle as the hub sees it, whatever its value type. */
export interface HandleView {
  readonly key: string;
  readonly value: unknown;
  callsFor(prev: unknown, meta: ConfigMeta): HandlerCall[];
  refusalCalls(refusal: ConfigRefusal): HandlerCall[];
}

/** One queued handler call; the hub runs them one after another. */
export interface HandlerCall {
  readonly label: string;
  readonly run: () => unknown;
  /** How long an async call is waited for before the queue moves on. */
  readonly timeoutMs: number;
}

interface Selection<T> {
  readonly selector: (value: DeepReadonly<T>) => unknown;
  readonly call: (next: unknown, prev: unknown, meta: ConfigMeta) => void | Promise<void>;
  slice: unknown;
  hash: string;
}

/**
 * A typed, live view of one config key, returned by `kon.config(key, schema)`.
 *
 * `value` is always the current, deep-frozen value. Handlers run after a swap, one at a time and
 * in registration order; the next swap waits until they are done (async ones included), so two
 * swaps never interleave. A handler that throws is logged and does not stop the others.
 */
export class ConfigHandle<T> implements HandleView {
  private readonly changeHandlers: ChangeHandler<T>[] = [];
  private readonly selections: Selection<T>[] = [];
  private readonly refusalHandlers: RefusalHandler[] = [];
  private lastRefusal: ConfigRefusal | undefined;
  private closed = false;

  /** @internal Created by the config hub. */
  constructor(
    readonly key: string,
    private readonly slot: ValueSlot,
    private readonly host: HandleHost,
    private readonly fallback: unknown,
    private readonly handlerTimeoutMs: number,
  ) {}

  /** The current value, typed by the schema and deep-frozen. */
  get value(): DeepReadonly<T> {
    return (this.slot.value !== undefined ? this.slot.value : this.fallback) as DeepReadonly<T>;
  }

  /** Same as {@link value}. */
  getConfig(): DeepReadonly<T> {
    return this.value;
  }

  /** KV revision of the current value (0 for a default). */
  get revision(): number {
    return this.meta.revision;
  }

  get meta(): ConfigMeta {
    return this.slot.value !== undefined && this.slot.meta ? this.slot.meta : DEFAULT_META;
  }

  /** `nats`, `snapshot` (NATS unreachable so far), `file`, or `default`. */
  get source(): ConfigOrigin {
    return this.meta.origin;
  }

  /** True while running on the on-disk snapshot, before NATS confirmed or replaced it. */
  get stale(): boolean {
    return this.slot.value !== undefined && this.slot.stale;
  }

  /**
   * A value already received that becomes current at `activateAtMs` (a scheduled change; the
   * swap happens at that instant of the NATS server's clock), or undefined. A newer write of
   * the key before the instant cancels it.
   */
  get pending(): PendingConfig<T> | undefined {
    return this.slot.pending as PendingConfig<T> | undefined;
  }

  /** True when the key was deleted at the source; the last value stays current. */
  get deleted(): boolean {
    return this.slot.deleted;
  }

  /** Calls `handler(next, prev, meta)` after each change of the value. @returns unsubscribe */
  onChange(handler: ChangeHandler<T>): () => void {
    this.changeHandlers.push(handler);
    return () => {
      const i = this.changeHandlers.indexOf(handler);
      if (i >= 0) this.changeHandlers.splice(i, 1);
    };
  }

  /**
   * Calls `handler(refusal)` each time this process refuses a value of the key: it failed the
   * schema, is not a usable entry (sha256 mismatch, not JSON), or came with a change set another
   * key of which was refused. The value stays the last good one; the refusal is also logged and
   * published as `config.rejected`. Runs in the same queue as change handlers.
   * @returns unsubscribe
   */
  onRefused(handler: RefusalHandler): () => void {
    this.refusalHandlers.push(handler);
    return () => {
      const i = this.refusalHandlers.indexOf(handler);
      if (i >= 0) this.refusalHandlers.splice(i, 1);
    };
  }

  /**
   * The newest refusal of a revision newer than the current value, or undefined (none, or a
   * later value was accepted). Also set when the value at open time was refused and the handle
   * runs on its `default`.
   */
  get refused(): ConfigRefusal | undefined {
    const r = this.lastRefusal;
    return r && r.revision > this.revision ? r : undefined;
  }

  /**
   * Calls `handler(next, prev, meta)` only when the selected slice changed: its stable JSON is
   * hashed (sha256) after every swap and compared with the previous hash.
   * @returns unsubscribe
   */
  select<S>(selector: (value: DeepReadonly<T>) => S, handler: SliceHandler<S>): () => void {
    const slice = selector(this.value);
    const sel: Selection<T> = {
      selector,
      call: (next, prev, meta) => handler(next as S, prev as S, meta),
      slice,
      hash: stableHash(slice),
    };
    this.selections.push(sel);
    return () => {
      const i = this.selections.indexOf(sel);
      if (i >= 0) this.selections.splice(i, 1);
    };
  }

  /**
   * One round trip to the source: if it holds a newer revision of this key than the one applied,
   * waits until it is applied (handlers included).
   * @returns the revision now current
   * @throws KonError `CONFIG_INVALID` when the newest revision was refused by the schema,
   *   `CONFIG_UNAVAILABLE` when the source cannot be reached in time.
   * @param timeoutMs @default 5000
   */
  async ensureFresh(timeoutMs = 5000): Promise<number> {
    await this.host.ensureFresh(this.key, timeoutMs);
    return this.revision;
  }

  /**
   * Runs `fn(value)` only if this handle is known to run the newest revision of the key: its
   * watch heard from the NATS server (a message, or an idle heartbeat, every 300 ms) within
   * `maxStalenessMs` with everything it received applied (or a confirmation below was made within
   * it), or else a direct get of the key's last revision, sent now, finds that revision applied
   * within `confirmTimeoutMs` (dated when it was sent). A newest revision
   * this process refused counts as known (it keeps its last good value on purpose; see
   * {@link refused}). A `file:` source is read directly and never stale.
   * @returns what `fn` returns
   * @throws {@link StaleConfigError} (`STALE_CONFIG`) saying what is stale and since when, without
   *   calling `fn`; `INVALID_OPTIONS` for a bad bound
   */
  async guard<R>(fn: (value: DeepReadonly<T>) => R | Promise<R>, opts: GuardOptions): Promise<R> {
    return guardRun(this, this.host.freshness, fn, opts);
  }

  /** Stops this handle's handlers; the value stays readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.changeHandlers.length = 0;
    this.selections.length = 0;
    this.refusalHandlers.length = 0;
    this.host.release(this);
  }

  /** @internal Records a refusal; returns the listener calls to queue. */
  refusalCalls(refusal: ConfigRefusal): HandlerCall[] {
    this.lastRefusal = refusal;
    return this.refusalHandlers.map((h) => ({
      label: `onRefused(${this.key})`,
      run: () => h(refusal),
      timeoutMs: this.handlerTimeoutMs,
    }));
  }

  /** @internal The handler calls one swap from `prev` to the current value needs. */
  callsFor(prev: unknown, meta: ConfigMeta): HandlerCall[] {
    const next = this.value;
    const calls: HandlerCall[] = [];
    for (const h of this.changeHandlers) {
      calls.push({
        label: `onChange(${this.key})`,
        run: () => h(next, prev as DeepReadonly<T>, meta),
        timeoutMs: this.handlerTimeoutMs,
      });
    }
    for (const sel of this.selections) {
      let slice: unknown;
      try {
        slice = sel.selector(next);
      } catch (err) {
        this.host.logger.error(`select(${this.key}) selector threw: ${String(err)}`);
        continue;
      }
      const hash = stableHash(slice);
      if (hash === sel.hash) continue;
      const prevSlice = sel.slice;
      sel.slice = slice;
      sel.hash = hash;
      calls.push({
        label: `select(${this.key})`,
        run: () => sel.call(slice, prevSlice, meta),
        timeoutMs: this.handlerTimeoutMs,
      });
    }
    return calls;
  }
}
