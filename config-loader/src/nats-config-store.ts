import { jetstream } from "@nats-io/jetstream";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers } from "@nats-io/transport-node";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { ConfigEntry, ConfigEvent, decodeMessage, encodeMessage } from "@konorkestra/proto";
import type { ConfigEventInit } from "@konorkestra/proto";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import {
  KonHeader,
  NatsHeader,
  configEventWord,
  ensureConfigBucket,
  kvSubject,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { MAX_BATCH_MESSAGES, publishAtomicBatch } from "./atomic-batch";
import { inChunks } from "./in-chunks";
import type { ChangeMessage, ConfigStore, CurrentEntry, StoredChangeSet } from "./config-store";

/** Settings of the buckets the store creates. */
export interface NatsConfigStoreOptions {
  history: number;
  replicas: number;
}

/** {@link ConfigStore} on JetStream: KV bucket `cfg_<group>` per group, events to `KON_EVENTS`. */
export class NatsConfigStore implements ConfigStore {
  private readonly js: JetStreamClient;
  private readonly buckets = new Map<string, Promise<KV>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly opts: NatsConfigStoreOptions,
  ) {
    this.js = jetstream(nc);
  }

  /** Opens (creating on first use) the group's bucket; a failure is retried on the next call. */
  bucket(group: string): Promise<KV> {
    let kv = this.buckets.get(group);
    if (!kv) {
      kv = ensureConfigBucket(this.nc, this.names, group, this.opts);
      kv.catch(() => this.buckets.delete(group));
      this.buckets.set(group, kv);
    }
    return kv;
  }

  async current(group: string): Promise<Map<string, CurrentEntry>> {
    const kv = await this.bucket(group);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    const out = new Map<string, CurrentEntry>();
    await inChunks(keys, 64, async (key) => {
      const e = await kv.get(key);
      if (!e || e.operation !== "PUT") return;
      let sha256 = "";
      try {
        sha256 = decodeMessage(ConfigEntry, e.value).sha256;
      } catch {
        // Written by something else; republishing the file's value repairs it.
      }
      out.set(key, { sha256, revision: e.revision });
    });
    return out;
  }

  async write(group: string, id: string, messages: ChangeMessage[]): Promise<StoredChangeSet> {
    if (messages.length === 0 || messages.length > MAX_BATCH_MESSAGES) {
      throw new RangeError(
        `a change set has 1-${MAX_BATCH_MESSAGES} messages, not ${messages.length}`,
      );
    }
    await this.bucket(group);
    const bucket = this.names.configBucket(group);
    const size = messages.length;
    const wire = messages.map((m) => {
      const h = headers();
      h.set(KonHeader.ChangeSet, id);
      h.set(KonHeader.ChangeSetSize, String(size));
      if (!m.entry) h.set(NatsHeader.KvOperation, "DEL");
      const data = m.entry ? encodeMessage(ConfigEntry, m.entry) : new Uint8Array(0);
      return { subject: kvSubject(bucket, m.key), data, headers: h };
    });
    if (wire.length === 1) {
      const m = wire[0]!;
      const ack = await this.publishOne(m.subject, m.data, m.headers);
      return { id, size, firstRevision: ack, lastRevision: ack, atomic: false };
    }
    const ack = await publishAtomicBatch(this.nc, wire);
    return {
      id,
      size,
      firstRevision: ack.lastSeq - ack.count + 1,
      lastRevision: ack.lastSeq,
      atomic: true,
    };
  }

  private async publishOne(subject: string, data: Uint8Array, h: MsgHdrs): Promise<number> {
    try {
      return (await this.js.publish(subject, data, { headers: h })).seq;
    } catch (err) {
      throw new KonError(
        KonErrorCode.PublishFailed,
        `publish to ${subject} failed: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  async publishEvents(group: string, events: ConfigEventInit[]): Promise<void> {
    await inChunks(events, 100, async (ev) => {
      const word = configEventWord(ev.kind ?? ConfigEvent.Kind.KIND_UNSPECIFIED);
      if (!word) throw new TypeError(`config event ${ev.eventId ?? ""} has no kind`);
      const subject = this.names.eventSubject(group, `config.${word}`);
      await this.js.publish(subject, encodeMessage(ConfigEvent, ev), {
        msgID: ev.eventId ?? undefined,
      });
    });
  }

  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }
}
