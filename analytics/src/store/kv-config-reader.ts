import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { LatestValue } from "../domain/rollouts";
import type { ConfigProvenance, ConfigProvenanceLookup } from "../model/config-change";

/** The latest value of one config key in a group's bucket. */
export interface LatestConfig {
  key: string;
  revision: number;
  sha256: string;
}

/**
 * Reads the config buckets `cfg_<group>`: what is current (the drift reference) and who wrote a
 * given revision (the config history's provenance).
 */
export class KvConfigReader implements ConfigProvenanceLookup {
  /** Opened buckets, for the per-event provenance look-ups (a failed open is not kept). */
  private readonly buckets = new Map<string, Promise<KV>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
  ) {}

  /**
   * Latest revision of every live key of the group; undefined when the group has no bucket.
   * A deleted key is not listed (no node should run it any more).
   */
  async latest(group: string): Promise<LatestConfig[] | undefined> {
    let kv;
    try {
      kv = await new Kvm(this.nc).open(this.names.configBucket(group));
      await kv.status();
    } catch (err) {
      if (/not found/i.test(String(err))) return undefined;
      throw err;
    }
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    const out: LatestConfig[] = [];
    for (const key of keys.sort()) {
      const e = await kv.get(key);
      if (!e || e.operation !== "PUT") continue;
      let sha256 = "";
      try {
        sha256 = decodeMessage(ConfigEntry, e.value).sha256;
      } catch {
        // A value that is not a ConfigEntry still has a revision to compare against.
      }
      out.push({ key, revision: e.revision, sha256 });
    }
    return out;
  }

  /**
   * The current value of one key: revision, sha256 and the entry's own time; undefined when the
   * group has no bucket or the key no value.
   */
  async latestOf(group: string, key: string): Promise<LatestValue | undefined> {
    let e;
    try {
      e = await (await this.bucket(group)).get(key);
    } catch (err) {
      if (/not found/i.test(String(err))) return undefined;
      throw err;
    }
    if (!e || e.operation !== "PUT") return undefined;
    try {
      const entry = decodeMessage(ConfigEntry, e.value);
      return { revision: e.revision, sha256: entry.sha256, updatedAtMs: Number(entry.updatedAtMs) };
    } catch {
      return { revision: e.revision, sha256: "", updatedAtMs: 0 };
    }
  }

  private bucket(group: string): Promise<KV> {
    const bucket = this.names.configBucket(group);
    let kv = this.buckets.get(bucket);
    if (!kv) {
      kv = new Kvm(this.nc).open(bucket);
      this.buckets.set(bucket, kv);
      kv.catch(() => this.buckets.delete(bucket));
    }
    return kv;
  }

  /**
   * Git commit, author and publisher of a key's revision, from its ConfigEntry; undefined when the
   * revision is no longer in the bucket (beyond its history, purged), is not a PUT of that key,
   * or is not a ConfigEntry.
   */
  async provenance(
    group: string,
    key: string,
    revision: number,
  ): Promise<ConfigProvenance | undefined> {
    const e = await (await this.bucket(group)).get(key, { revision });
    if (!e || e.operation !== "PUT") return undefined;
    let entry: ConfigEntry;
    try {
      entry = decodeMessage(ConfigEntry, e.value);
    } catch {
      return undefined;
    }
    return {
      gitCommit: entry.gitCommit || undefined,
      gitAuthor: entry.gitAuthor || undefined,
      publishedBy: entry.publishedBy || undefined,
    };
  }
}
