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
  /**
   * Most bytes `KON_HB` keeps; beyond it the oldest heartbeats go, even before their age, so
   * invented node ids cannot fill the disk. Size it to hold a monitor's or analytics' longest
   * expected lag (10,000 nodes at 1 Hz write about 2 MB/s). @default 1 GiB
   */
  heartbeatMaxBytes?: number;
  /** Most bytes `KON_EVENTS` keeps. @default 256 MiB */
  eventMaxBytes?: number;
}

const GIB = 2 ** 30;
/** Defaults of the byte caps, for readers of a stream's limits (the monitor's metrics). */
export const HEARTBEAT_MAX_BYTES = GIB;
export const EVENT_MAX_BYTES = GIB / 4;

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
      max_bytes: opts.heartbeatMaxBytes ?? HEARTBEAT_MAX_BYTES,
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
      max_bytes: opts.eventMaxBytes ?? EVENT_MAX_BYTES,
      discard: DiscardPolicy.Old,
      // Events carry Nats-Msg-Id; several monitors publishing one event store it once.
      duplicate_window: ns(2 * 60_000),
    },
  ];
}

/**
 * Creates `KON_HB` and `KON_EVENTS` if they are missing. An existing stream is left as it is,
 * except that one with no byte limit (created before there was one) gets the byte cap; if the
 * server cannot reserve it (account storage), the stream stays unlimited rather than failing.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: WireNames,
  opts: StreamOptions = {},
): Promise<void> {
  for (const cfg of streamConfigs(names, opts)) {
    try {
      const info = await jsm.streams.info(cfg.name);
      if (info.config.max_bytes === -1 && cfg.max_bytes !== undefined) {
        await jsm.streams
          .update(cfg.name, { ...info.config, max_bytes: cfg.max_bytes })
          .catch(() => undefined);
      }
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
