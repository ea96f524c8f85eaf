import { KonError, KonErrorCode } from "@konorkestra/sdk";
import type { DeepReadonly, GuardOptions } from "@konorkestra/sdk";
import type { GuardedConfig } from "../../src/live-config";

/**
 * An in-memory LiveConfig for unit tests of the services' domain logic. Integration tests use the
 * real SDK against a real config-loader and NATS instead.
 */
export class SettableConfig<T> implements GuardedConfig<T> {
  private readonly selectors: {
    sel: (c: DeepReadonly<T>) => unknown;
    fn: (s: unknown) => void | Promise<void>;
    last: string;
  }[] = [];
  value: DeepReadonly<T>;
  /** When set, `guard` refuses with STALE_CONFIG and this reason (the SDK's verdict, simulated). */
  staleReason: string | undefined;

  constructor(value: T) {
    this.value = value as DeepReadonly<T>;
  }

  select<S>(
    selector: (config: DeepReadonly<T>) => S,
    handler: (slice: S) => void | Promise<void>,
  ): void {
    this.selectors.push({
      sel: selector,
      fn: handler as (s: unknown) => void | Promise<void>,
      last: JSON.stringify(selector(this.value)),
    });
  }

  guard<R>(fn: (config: DeepReadonly<T>) => R | Promise<R>, _opts: GuardOptions): Promise<R> {
    if (this.staleReason !== undefined) {
      return Promise.reject(new KonError(KonErrorCode.StaleConfig, this.staleReason));
    }
    return Promise.resolve(fn(this.value));
  }

  async set(next: T): Promise<void> {
    this.value = next as DeepReadonly<T>;
    for (const s of this.selectors) {
      const slice = s.sel(this.value);
      const key = JSON.stringify(slice);
      if (key !== s.last) {
        s.last = key;
        await s.fn(slice);
      }
    }
  }
}
