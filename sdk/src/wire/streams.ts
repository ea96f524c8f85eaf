import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import type { WireNames } from "./names";

/** Options for the streams every part shares. */
export interface StreamOptions {
  /** JetStream replicas (3 on a cluster). @default 1 */
  replicas?: number;
  /** How long heartbeats are kept in `KON_HB` for consumers that fall behind. @default 24 h */
  heartbeatMaxAgeMs?: number;
  /** How long events are kept in `KON_EVENTS`. @default 30 days */
  eventMaxAgeMs?: number;
}

const HOUR_MS = 3_600_000;
const ns = (ms: number): number => ms * 1_000_000;

/** Stream configs, so every creator agrees on them. */
export function streamConfigs(
  names: WireNames,
  opts: StreamOptions = {},
): (Partial<StreamConfig> & { name: string })[] {
  const { prefix } = names;
  return [
    {
      name: names.heartbeatStream,
      subjects: [`${prefix}.hb.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: opts.replicas ?? 1,
      max_age: ns(opts.heartbeatMaxAgeMs ?? 24 * HOUR_MS),
      discard: DiscardPolicy.Old,
      // The liveness monitor confirms a down with a direct get of the node's next heartbeat.
      allow_direct: true,
    },
    {
      name: names.eventStream,
      subjects: [`${prefix}.evt.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: opts.replicas ?? 1,
      max_age: ns(opts.eventMaxAgeMs ?? 30 * 24 * HOUR_MS),
      discard: DiscardPolicy.Old,
      // Events carry Nats-Msg-Id; several monitors publishing one event store it once.
      duplicate_window: ns(2 * 60_000),
    },
  ];
}

/** Creates `KON_HB` and `KON_EVENTS` if they are missing; existing streams are left as they are. */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: WireNames,
  opts: StreamOptions = {},
): Promise<void> {
  for (const cfg of streamConfigs(names, opts)) {
    try {
      await jsm.streams.info(cfg.name);
    } catch (err) {
      if (!/stream not found/i.test(String(err))) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        // Another process created it between our look-up and add.
        if (!/already in use|exists/i.test(String(addErr))) throw addErr;
      }
    }
  }
}
