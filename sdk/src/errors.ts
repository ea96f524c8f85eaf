/**
 * Stable error codes. They survive a trip through NATS headers or HTTP bodies, so callers match on
 * `code`, never on message text.
 */
export const KonErrorCode = {
  InvalidName: "INVALID_NAME",
  InvalidOptions: "INVALID_OPTIONS",
  // liveness monitor (HTTP ingest and nodes API)
  Unauthorized: "UNAUTHORIZED",
  RateLimited: "RATE_LIMITED",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  InvalidHeartbeat: "INVALID_HEARTBEAT",
  UnknownGroup: "UNKNOWN_GROUP",
  Internal: "INTERNAL",
  Closed: "CLOSED",
  QueryInvalid: "QUERY_INVALID",
  NotFound: "NOT_FOUND",
  ConfigNotFound: "CONFIG_NOT_FOUND",
  ConfigInvalid: "CONFIG_INVALID",
  ConfigUnavailable: "CONFIG_UNAVAILABLE",
  ConfigDirUnavailable: "CONFIG_DIR_UNAVAILABLE",
  /** `connect` could not reach NATS and was not allowed to start offline (`offlineStart`). */
  NatsUnreachable: "NATS_UNREACHABLE",
  /**
   * NATS answered and refused this process's credential (authorization violation: a wrong,
   * revoked or expired join key, token, nkey or password). Never retried; not an outage.
   */
  NatsRefused: "NATS_REFUSED",
  /** The snapshot directory or file is writable by others or owned by another user. */
  SnapshotDirUnsafe: "SNAPSHOT_DIR_UNSAFE",
  PublishFailed: "PUBLISH_FAILED",
  NodeIdUnavailable: "NODE_ID_UNAVAILABLE",
  HeartbeatRunning: "HEARTBEAT_RUNNING",
  HeartbeatMetaTooLarge: "HEARTBEAT_META_TOO_LARGE",
  /** `cfg.guard` could not confirm, within its bound, that the handle runs the newest revision. */
  StaleConfig: "STALE_CONFIG",
} as const;
export type KonErrorCode = (typeof KonErrorCode)[keyof typeof KonErrorCode];

/** Base of every error Konorkestra throws on purpose. */
export class KonError extends Error {
  constructor(
    readonly code: KonErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  toJSON(): { code: KonErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A group name, node id or config key that cannot be used on the wire. */
export class InvalidNameError extends KonError {
  constructor(
    readonly kind: "group" | "node id" | "config key",
    readonly value: string,
    reason: string,
  ) {
    super(KonErrorCode.InvalidName, `invalid ${kind} ${JSON.stringify(value)}: ${reason}`);
  }
}
