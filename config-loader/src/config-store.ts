import type { ConfigEntryInit, ConfigEventInit } from "@konorkestra/proto";

/** What the bucket holds for a key now. */
export interface CurrentEntry {
  /**
   * sha256 of the stored payload; "" when the entry cannot be decoded or its claimed sha256 is
   * not the payload's (forged or corrupt): such an entry is never taken as "unchanged".
   */
  sha256: string;
  revision: number;
  /** `ConfigEntry.git_commit` of the stored entry ("" when none). */
  gitCommit: string;
}

/** One message of a change set: a put of `entry`, or a delete when `entry` is undefined. */
export interface ChangeMessage {
  key: string;
  entry?: ConfigEntryInit;
}

/** A change set as stored: message `i` of the set has revision `firstRevision + i`. */
export interface StoredChangeSet {
  id: string;
  size: number;
  firstRevision: number;
  lastRevision: number;
  /** True when written as an atomic batch (more than one message). */
  atomic: boolean;
}

/** The KV side of the loader: per-group config buckets and the event stream. */
export interface ConfigStore {
  /** Every key of the group's bucket with its current sha256 (deleted keys excluded). */
  current(group: string): Promise<Map<string, CurrentEntry>>;
  /**
   * Writes one change set (at most 1,000 messages) to the group's bucket, all or nothing, every
   * message carrying `Kon-Change-Set` and `Kon-Change-Set-Size`.
   */
  write(group: string, changeSetId: string, messages: ChangeMessage[]): Promise<StoredChangeSet>;
  /** Publishes `config.<kind>` events; each `eventId` is the `Nats-Msg-Id`. */
  publishEvents(group: string, events: ConfigEventInit[]): Promise<void>;
  /** Largest message the server accepts (bytes). */
  maxPayload(): number;
}

/** A JSON Schema a service registered for a config key (`kon_schemas`, key `<group>.<key>`). */
export interface RegisteredSchema {
  /** Validates a value; returns the errors, or an empty array when it conforms. */
  validate(value: unknown): SchemaViolation[];
  /** sha256 of the schema JSON (ConfigEntry.schema_id). */
  id: string;
  /** KV revision of the registration (ConfigEntry.schema_version). */
  revision: number;
  service: string;
}

export interface SchemaViolation {
  /** JSON Pointer of the offending value, "" for the root. */
  path: string;
  message: string;
}

/** Where the loader finds registered schemas. */
export interface SchemaSource {
  /** Every live schema of the key (each service, each version in its grace period). */
  get(group: string, key: string): Promise<RegisteredSchema[]>;
  /** Called once before a pass over a group: lets a source reuse what it read if nothing moved. */
  refresh?(): Promise<void>;
}
