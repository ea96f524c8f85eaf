/**
 * Stable error codes. They survive a trip through NATS headers or HTTP bodies, so callers match on
 * `code`, never on message text.
 */
export const KonErrorCode = {
  InvalidName: "INVALID_NAME",
  InvalidOptions: "INVALID_OPTIONS",
  Closed: "CLOSED",
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
