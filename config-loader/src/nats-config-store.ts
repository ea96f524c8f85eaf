import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
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
  sha256Hex,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { MAX_BATCH_MESSAGES, publishAtomicBatch } from "./atomic-batch";
import { inChunks } from "./in-chunks";
import type { ChangeMessage, ConfigStore, CurrentEntry, StoredChangeSet } from "./config-store";

/** Settings of the buckets the store creates. */
export interface NatsConfigStoreOptions {
  history: number;
  replicas: number;
  /** Called for a stored entry whose claimed sha256 is not its payload's. */
  onForged?(group: string, key: string, revision: number): void;
}

/** What the bucket held at its stream's `lastSeq`, as last read or written by this store. */
interface Known {
  lastSeq: number;
  entries: Map<string, CurrentEntry>;
}

/** {@link ConfigStore} on JetStream: KV bucket `cfg_<group>` per group, events to `KON_EVENTS`. */
export class NatsConfigStore implements ConfigStore {
  private readonly js: JetStreamClient;
  private readonly buckets = new Map<string, Promise<KV>>();
  private readonly known = new Map<string, Known>();
  private jsm: Promise<JetStreamManager> | undefined;

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

  /**
   * The bucket's keys with their sha256. Read in full only when the stream moved since this store
   * last read or wrote it (one stream info otherwise), so a pass over an unchanged group costs no
   * read per key. Every entry read is checked: its sha256 is recomputed over the payload.
   */
  async current(group: string): Promise<Map<string, CurrentEntry>> {
    const kv = await this.bucket(group);
    this.jsm ??= jetstreamManager(this.nc);
    const stream = `KV_${this.names.configBucket(group)}`;
    const lastSeq = (await (await this.jsm).streams.info(stream)).state.last_seq;
    const known = this.known.get(group);
    if (known && known.lastSeq === lastSeq) return new Map(known.entries);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    const out = new Map<string, CurrentEntry>();
    let seen = 0;
    await inChunks(keys, 64, async (key) => {
      const e = await kv.get(key);
      if (!e) return;
      seen = Math.max(seen, e.revision);
      if (e.operation !== "PUT") return;
      out.set(key, this.checked(group, key, e.revision, e.value));
    });
    // Keys written while listing may be missed: remember only a read that saw the stream's end.
    if (seen <= lastSeq) this.known.set(group, { lastSeq, entries: out });
    return new Map(out);
  }

  /** A stored entry as the loader may trust it: the sha256 is the payload's, or "". */
  private checked(group: string, key: string, revision: number, value: Uint8Array): CurrentEntry {
    let entry: ConfigEntry;
    try {
      entry = decodeMessage(ConfigEntry, value);
    } catch {
      // Written by something else; republishing the file's value repairs it.
      return { sha256: "", revision, gitCommit: "" };
    }
    const actual = sha256Hex(entry.payload);
    if (entry.sha256 !== actual) {
      this.opts.onForged?.(group, key, revision);
      return { sha256: "", revision, gitCommit: "" };
    }
    return { sha256: actual, revision, gitCommit: entry.gitCommit };
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
    let stored: StoredChangeSet;
    if (wire.length === 1) {
      const m = wire[0]!;
      const ack = await this.publishOne(m.subject, m.data, m.headers);
      stored = { id, size, firstRevision: ack, lastRevision: ack, atomic: false };
    } else {
      const ack = await publishAtomicBatch(this.nc, wire);
      stored = {
        id,
        size,
        firstRevision: ack.lastSeq - ack.count + 1,
        lastRevision: ack.lastSeq,
        atomic: true,
      };
    }
    this.remember(group, messages, stored);
    return stored;
  }

  /**
   * Keeps the known state current after a write that directly followed it; a write by anyone
   * else in between leaves a gap, and the next `current()` reads the bucket again.
   */
  private remember(group: string, messages: ChangeMessage[], stored: StoredChangeSet): void {
    const known = this.known.get(group);
    if (!known || stored.firstRevision !== known.lastSeq + 1) {
      this.known.delete(group);
      return;
    }
    messages.forEach((m, i) => {
      const revision = stored.firstRevision + i;
      if (!m.entry) known.entries.delete(m.key);
      else {
        const sha256 = m.entry.sha256 ?? "";
        known.entries.set(m.key, { sha256, revision, gitCommit: m.entry.gitCommit ?? "" });
      }
    });
    known.lastSeq = stored.lastRevision;
  }

  /** Forgets what was read, so the next `current()` reads every bucket in full. */
  forget(): void {
    this.known.clear();
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
