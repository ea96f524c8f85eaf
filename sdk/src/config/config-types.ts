import type { z } from "zod";

/** Where a handle's current value came from. */
export type ConfigOrigin = "nats" | "snapshot" | "file" | "default";

/** A value no code path can change: objects, arrays, maps and sets all read-only, recursively. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends Date
    ? T
    : T extends ReadonlyMap<infer K, infer V>
      ? ReadonlyMap<DeepReadonly<K>, DeepReadonly<V>>
      : T extends ReadonlySet<infer V>
        ? ReadonlySet<DeepReadonly<V>>
        : T extends object
          ? { readonly [P in keyof T]: DeepReadonly<T[P]> }
          : T;

/** Provenance of the value a handle currently holds. */
export interface ConfigMeta {
  /** KV revision (stream sequence); a local counter for `file:` sources; 0 for a default. */
  readonly revision: number;
  /** Lowercase hex SHA-256 of the JSON payload ("" for a default). */
  readonly sha256: string;
  readonly gitCommit: string;
  readonly gitAuthor: string;
  /** Source file relative to the config root. */
  readonly sourcePath: string;
  readonly changeSetId: string;
  /** Keys in that change set (1 for a lone change). */
  readonly changeSetSize: number;
  readonly publishedBy: string;
  /** When the writer published it (epoch 0 when unknown). */
  readonly updatedAt: Date;
  readonly origin: ConfigOrigin;
}

/** A scheduled value of a key: `handle.pending`. */
export interface PendingConfig<T> {
  readonly value: DeepReadonly<T>;
  /** KV revision of the scheduled value. */
  readonly revision: number;
  /** When it becomes current: ms since the epoch, on the NATS server's clock. */
  readonly activateAtMs: number;
}

/** Called after a new value became current. May be async: the next swap waits for it. */
export type ChangeHandler<T> = (
  next: DeepReadonly<T>,
  prev: DeepReadonly<T>,
  meta: ConfigMeta,
) => void | Promise<void>;

/** Called when the selected slice of the value changed (by hash of its stable JSON). */
export type SliceHandler<S> = (next: S, prev: S, meta: ConfigMeta) => void | Promise<void>;

/**
 * A value of a key this process refused. The handle keeps its last good value (`keptRevision`)
 * and the refusal is reported as a `config.rejected` event; `handle.onRefused` lets code react.
 */
export interface ConfigRefusal {
  readonly key: string;
  /** KV revision refused. */
  readonly revision: number;
  /**
   * Why: `schema: /port: Too big: …` (first issues of this service's zod schema),
   * `sha256 mismatch: …`, `not a ConfigEntry: …`, `payload is not JSON: …`, or
   * `change set <id> (<keys> invalid)` for a key refused with its change set.
   */
  readonly reason: string;
  /**
   * `schema`: failed this service's schema; `syntax`: not a usable entry (undecodable, not
   * JSON, sha256 mismatch); `change-set`: another key of its change set was refused.
   */
  readonly code: "schema" | "syntax" | "change-set";
  /** JSON Pointer of the first offending field ("" when the whole value is at fault). */
  readonly valuePath: string;
  /** sha256 the entry claims ("" when undecodable). */
  readonly sha256: string;
  readonly changeSetId: string;
  /** Source file relative to the config root ("" when unknown). */
  readonly sourcePath: string;
  /** Revision the handle keeps running (0 when it has none). */
  readonly keptRevision: number;
}

/** Called after this process refused a value of the key; the last good value stays. */
export type RefusalHandler = (refusal: ConfigRefusal) => void | Promise<void>;

/** Options of `kon.config(key, schema, opts)`. */
export interface ConfigOptions<I = unknown> {
  /**
   * Value used while the key does not exist (parsed by the schema like any other value). Without
   * it, a key that is absent after the initial load rejects with `CONFIG_NOT_FOUND`.
   */
  default?: I;
  /**
   * How long `kon.config` waits for the initial load from NATS before it falls back to the
   * on-disk snapshot. @default max(connectTimeoutMs, 5000)
   */
  readyTimeoutMs?: number;
  /**
   * An async handler still running after this long is reported (logger.error) and no longer
   * waited for, so one stuck handler cannot freeze every later swap. @default 30000
   */
  handlerTimeoutMs?: number;
}

/** One change set as applied by this process (all of its keys became current together). */
export interface AppliedChangeSet {
  /** `Kon-Change-Set` id ("" for a lone change without one, `initial` for a (re)load). */
  readonly id: string;
  /** Config key → revision now current, for every key of the set this process accepted. */
  readonly revisions: Readonly<Record<string, number>>;
  readonly origin: ConfigOrigin;
}

/** Anything zod can parse; `z.output<S>` is the typed value. */
export type ConfigSchema = z.ZodType;
