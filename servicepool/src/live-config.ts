import type { DeepReadonly } from "@konorkestra/sdk";

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
