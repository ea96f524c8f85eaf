import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import type { WireNames } from "@konorkestra/sdk";

/** The latest value of one config key in a group's bucket. */
export interface LatestConfig {
  key: string;
  revision: number;
  sha256: string;
}

/** Reads what is current in the config buckets `cfg_<group>` (the drift reference). */
export class KvConfigReader {
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
}
