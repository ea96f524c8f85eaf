import type { LiveConfig } from "../../src/live-config";

/**
 * An in-memory LiveConfig for unit tests of the services' domain logic. Integration tests use the
 * real SDK against a real config-loader and NATS instead.
 */
export class SettableConfig<T> implements LiveConfig<T> {
  private readonly selectors: {
    sel: (c: T) => unknown;
    fn: (s: unknown) => void | Promise<void>;
    last: string;
  }[] = [];

  constructor(public value: T) {}

  select<S>(selector: (config: T) => S, handler: (slice: S) => void | Promise<void>): void {
    this.selectors.push({
      sel: selector,
      fn: handler as (s: unknown) => void | Promise<void>,
      last: JSON.stringify(selector(this.value)),
    });
  }

  async set(next: T): Promise<void> {
    this.value = next;
    for (const s of this.selectors) {
      const slice = s.sel(next);
      const key = JSON.stringify(slice);
      if (key !== s.last) {
        s.last = key;
        await s.fn(slice);
      }
    }
  }
}
