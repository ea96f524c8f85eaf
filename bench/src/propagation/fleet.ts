import type { Logger } from "@konorkestra/sdk";
import type { ApplyTracker } from "./apply-tracker";
import type { SchemaPolicy } from "./bench-config";

/** A set of watchers spread over connections, all in this process, reporting to a tracker. */
export interface Fleet {
  readonly watchers: number;
  readonly connections: number;
  /** Values a watcher could not decode or validate (should stay 0). */
  readonly errors: () => number;
  /** Stops every watcher and closes every connection; never rejects. */
  close(): Promise<void>;
}

/** What every fleet variant is given. */
export interface FleetSpec {
  readonly watchers: number;
  readonly connections: number;
  /** Config key (NATS variants) or etcd key every watcher watches. */
  readonly key: string;
  readonly tracker: ApplyTracker;
  /** Who shares a schema object (see SchemaPolicy). */
  readonly schemas: SchemaPolicy;
  readonly logger: Logger;
}

/**
 * Splits `watchers` over `connections` as evenly as possible; returns, per connection, the index
 * of its first watcher and how many it has (1,000 over 50 → 20 each).
 */
export function spreadWatchers(
  watchers: number,
  connections: number,
): { first: number; count: number }[] {
  const base = Math.floor(watchers / connections);
  const extra = watchers % connections;
  const out: { first: number; count: number }[] = [];
  let first = 0;
  for (let c = 0; c < connections; c++) {
    const count = base + (c < extra ? 1 : 0);
    out.push({ first, count });
    first += count;
  }
  return out;
}

/** Runs every closer, whatever the others do; failures are logged, not thrown. */
export async function closeAll(
  closers: readonly (() => Promise<unknown>)[],
  logger: Logger,
): Promise<void> {
  const results = await Promise.allSettled(closers.map((c) => c()));
  for (const r of results) {
    if (r.status === "rejected") logger.warn(`closing: ${String(r.reason)}`);
  }
}
