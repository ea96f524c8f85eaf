import { jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import {
  liveSchemaRecords,
  parseSchemaRecords,
  schemaRecordKey,
  sha256Hex,
} from "@konorkestra/sdk/internal";
import type { SchemaRecord, WireNames } from "@konorkestra/sdk/internal";
import { AdminError, AdminErrorCode } from "../domain/admin-error";

/** A key's value in the bucket at one revision. */
export interface StoredValue {
  key: string;
  revision: number;
  entry: ConfigEntry;
  /** The payload parsed (JSON). */
  value: unknown;
}

/**
 * Read access to the groups' config buckets and to `kon_schemas` (the admin never writes a config
 * bucket: the loader publishes what the API commits).
 */
export class ConfigBuckets {
  private readonly kvs = new Map<string, Promise<KV>>();
  private jsmP: Promise<JetStreamManager> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly names: WireNames,
  ) {}

  jsm(): Promise<JetStreamManager> {
    this.jsmP ??= jetstreamManager(this.nc);
    return this.jsmP;
  }

  streamOf(group: string): string {
    return `KV_${this.names.configBucket(group)}`;
  }

  /** The group's bucket; 404 when it does not exist. */
  async kv(group: string): Promise<KV> {
    let p = this.kvs.get(group);
    if (!p) {
      // Kvm.open does not look the bucket up; status() does (a missing one would otherwise
      // surface later as a 500 "stream not found" from the first read).
      p = new Kvm(this.nc).open(this.names.configBucket(group)).then(async (kv) => {
        await kv.status();
        return kv;
      });
      this.kvs.set(group, p);
      p.catch(() => this.kvs.delete(group));
    }
    try {
      return await p;
    } catch {
      throw new AdminError(AdminErrorCode.NotFound, `group ${group} has no config bucket`);
    }
  }

  /** Current value of a key; undefined when it has none (never written, or deleted). */
  async current(group: string, key: string): Promise<StoredValue | undefined> {
    const e = await (await this.kv(group)).get(key);
    if (!e || e.operation !== "PUT" || e.value.length === 0) return undefined;
    return stored(key, e.revision, e.value);
  }

  /** The key's value at `revision` (a stream sequence), undefined when not kept or not this key. */
  async atRevision(group: string, key: string, revision: number): Promise<StoredValue | undefined> {
    const jsm = await this.jsm();
    const m = await jsm.streams
      .getMessage(this.streamOf(group), { seq: revision })
      .catch(() => null);
    const subject = `$KV.${this.names.configBucket(group)}.${key}`;
    if (!m || m.subject !== subject || m.data.length === 0) return undefined;
    return stored(key, revision, m.data);
  }

  /** The live JSON Schema registrations a value of the key must meet. */
  async schemasFor(group: string, key: string): Promise<SchemaRecord[]> {
    let kv: KV;
    try {
      kv = await new Kvm(this.nc).open(this.names.schemasBucket);
    } catch {
      return [];
    }
    const e = await kv.get(schemaRecordKey(group, key));
    if (!e || e.operation !== "PUT" || e.value.length === 0) return [];
    try {
      return liveSchemaRecords(parseSchemaRecords(e.string()), Date.now());
    } catch {
      return []; // an unreadable registration is ignored, as the loader does
    }
  }
}

function stored(key: string, revision: number, bytes: Uint8Array): StoredValue | undefined {
  const entry = decodeMessage(ConfigEntry, bytes);
  // Readers recompute the sha256; an entry whose payload does not match is not trusted.
  if (sha256Hex(entry.payload) !== entry.sha256) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(entry.payload).toString("utf8"));
  } catch {
    return undefined;
  }
  return { key, revision, entry, value };
}
