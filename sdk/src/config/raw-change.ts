import type { ConfigEntry } from "@konorkestra/proto";

/** One write to one config key, as a source delivers it, before decoding or validation. */
export interface RawChange {
  readonly key: string;
  /** KV revision (stream sequence), or the file source's local counter. */
  readonly revision: number;
  /** `delete` covers KV deletes, purges and server delete markers. */
  readonly op: "put" | "delete";
  /** Encoded ConfigEntry (NATS); decoded at most once, into `entry`. */
  readonly data?: Uint8Array;
  /** Decoded entry (set directly by the file source and the snapshot). */
  entry?: ConfigEntry;
  /** `Kon-Change-Set` header ("" when absent). */
  readonly changeSetId: string;
  /** `Kon-Change-Set-Size` header (1 when absent). */
  readonly changeSetSize: number;
  readonly origin: "nats" | "snapshot" | "file";
}

/**
 * A group of changes to apply as one unit. `set`: one change set (or a lone change), applied all
 * or nothing. `load`: the state of the bucket after a (re)load, applied key by key; with
 * `complete`, keys missing from it are gone from the source.
 */
export interface ChangeBatch {
  readonly kind: "set" | "load";
  readonly changes: RawChange[];
  readonly changeSetId: string;
  readonly complete?: boolean;
}
