import type { ConfigEntry } from "@konorkestra/proto";
import { KonError, KonErrorCode } from "../errors";
import type { SnapshotEntry } from "./config-snapshot-store";
import type { ConfigSchema } from "./config-types";
import type { CandidateVerdict } from "./prepare-responder";
import type { ChangeBatch } from "./raw-change";
import type { ServerClock } from "./server-clock";
import type { Rejection } from "./rejection-reporter";
import type { SourceContact } from "./stale-guard";

/** Where a source hands its batches: the hub's queue, which applies them one at a time. */
export interface ConfigSink {
  /** Queues a batch; `after` runs right after it was applied, before the next batch. */
  deliver(batch: ChangeBatch, after?: () => void): void;
  /** Resolves when nothing is queued or being applied. */
  idle(): Promise<void>;
  /** Checks a STRONG write's candidate against the handles' schemas (prepare vote). */
  check?(entry: ConfigEntry): CandidateVerdict;
  /** The server clock scheduled values are timed by; a NATS source keeps it estimated. */
  readonly clock?: ServerClock;
}

/**
 * Where the config of a group comes from: the group's KV bucket (with the last-known-good
 * snapshot while NATS does not answer) or a local folder. The hub keeps the values and runs the
 * handlers; everything that depends on where values come from is here.
 */
export interface ConfigSource {
  /**
   * Delivers the current state, then every change. Resolves once the current state is applied,
   * or, when waiting for it takes longer than `readyTimeoutMs`, once a fallback is applied.
   * @throws {@link KonError} `CONFIG_UNAVAILABLE` when the source cannot be read at all
   */
  start(readyTimeoutMs: number): Promise<void>;
  /**
   * Has the source deliver what `key` holds now; resolves with that revision of the key (0 when
   * it has none), which the hub then waits to have applied.
   * @throws {@link KonError} `CONFIG_UNAVAILABLE` when the source does not answer in time
   */
  freshen(key: string, timeoutMs: number): Promise<number>;
  /**
   * The live link's last sign of being current, for `cfg.guard`; undefined before the first load.
   * Absent on a source read directly (a local folder), which cannot be stale.
   */
  contact?(): SourceContact | undefined;
  /** The error for a key the hub has no value of: not found, or the source not read yet. */
  missing(key: string): KonError;
  /** The hub now applies `value` for `key` (kept as last known good where the source has that). */
  keep(key: string, value: SnapshotEntry): void;
  /** This process refused a value (reported where the source can; it is in the log already). */
  refuse(rejection: Rejection): void;
  /** A handle opened `key` with `schema` (published where the source can). */
  opened(key: string, schema: ConfigSchema): void;
  /** Stops delivering; saves what must outlive the process. */
  stop(): Promise<void>;
}

export function configUnavailable(key: string, why: string): KonError {
  return new KonError(KonErrorCode.ConfigUnavailable, `config ${key}: ${why}`);
}

/** `where`: what was looked in (`the config folder`, `bucket kon_cfg_x`). */
export function configNotFound(key: string, where: string): KonError {
  return new KonError(
    KonErrorCode.ConfigNotFound,
    `config key ${key} does not exist in ${where} (pass opts.default to start without it)`,
  );
}
