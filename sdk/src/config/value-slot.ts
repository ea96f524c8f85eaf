import type { ConfigMeta } from "./config-types";

/**
 * The current value of one config key under one schema, shared by every handle that opened the
 * key with that schema: a swap is one assignment here, seen by all of them at once.
 */
export interface ValueSlot {
  /** Deep-frozen parsed value; undefined while the key has no accepted value. */
  value: unknown;
  meta: ConfigMeta | undefined;
  /** True while the value comes from the on-disk snapshot and NATS has not confirmed it. */
  stale: boolean;
  /** True when the key was deleted at the source; the last value stays current. */
  deleted: boolean;
  /** A value received early that becomes current at its instant (scheduled activation). */
  pending?: PendingValue;
}

/** A scheduled value of a key, parsed by the handle's schema (`handle.pending`). */
export interface PendingValue {
  readonly value: unknown;
  /** KV revision of the scheduled value. */
  readonly revision: number;
  /** When it becomes current, ms since the epoch on the NATS server's clock. */
  readonly activateAtMs: number;
}

/** Meta of a value that no source provided (a handle's `default`). */
export const DEFAULT_META: ConfigMeta = Object.freeze({
  revision: 0,
  sha256: "",
  gitCommit: "",
  gitAuthor: "",
  sourcePath: "",
  changeSetId: "",
  changeSetSize: 0,
  publishedBy: "",
  updatedAt: new Date(0),
  origin: "default" as const,
});
