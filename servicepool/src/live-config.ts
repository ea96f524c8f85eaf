import type { DeepReadonly, GuardOptions } from "@konorkestra/sdk";

/**
 * The part of the SDK's config handle a service uses. The services take this rather than the SDK
 * class so that their behaviour is visible in one place: read `value`, react in `select`.
 */
export interface LiveConfig<T> {
  /** The current, deep-frozen value. */
  readonly value: DeepReadonly<T>;
  /** Calls `handler` whenever the selected slice of the value changes. */
  select<S>(
    selector: (config: DeepReadonly<T>) => S,
    handler: (slice: S) => void | Promise<void>,
  ): unknown;
}

/** A live config that can also refuse work on a value it cannot prove current (`cfg.guard`). */
export interface GuardedConfig<T> extends LiveConfig<T> {
  /**
   * Runs `fn(value)` only on a value proven newest within `maxStalenessMs`; otherwise rejects
   * with a KonError `STALE_CONFIG` and does not call `fn`.
   */
  guard<R>(fn: (config: DeepReadonly<T>) => R | Promise<R>, opts: GuardOptions): Promise<R>;
}
