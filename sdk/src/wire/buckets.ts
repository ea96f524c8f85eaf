import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { WireNames } from "./names";

/** Settings of a group's config bucket. */
export interface ConfigBucketOptions {
  /** Revisions kept per key (rollback and audit). @default 64 */
  history?: number;
  /** JetStream replicas (3 on a cluster). @default 1 */
  replicas?: number;
}

/**
 * How long a consumer of a config bucket may go without interest before the server removes it.
 * Members may create consumers on their bucket (a watch is one); with this limit a durable one a
 * member leaves behind goes away too, so they cannot pile up on the server. 10 minutes: above
 * the 5 minutes client libraries' ordered consumers ask for (nats.js KV watch).
 */
export const CONFIG_CONSUMER_MAX_INACTIVE_MS = 600_000;

/**
 * Opens `cfg_<group>`, creating it if needed, with atomic batches enabled on its stream so a
 * change set of several keys is stored whole or not at all, and an inactivity limit on its
 * consumers. Safe to call from several processes.
 */
export async function ensureConfigBucket(
  nc: NatsConnection,
  names: WireNames,
  group: string,
  opts: ConfigBucketOptions = {},
): Promise<KV> {
  const bucket = names.configBucket(group);
  const kv = await new Kvm(nc).create(bucket, {
    history: opts.history ?? 64,
    replicas: opts.replicas ?? 1,
  });
  await enableAtomic(nc, `KV_${bucket}`);
  return kv;
}

async function enableAtomic(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const inactive = CONFIG_CONSUMER_MAX_INACTIVE_MS * 1_000_000;
  if (info.config.allow_atomic && info.config.consumer_limits?.inactive_threshold === inactive) {
    return;
  }
  await jsm.streams.update(stream, {
    ...info.config,
    allow_atomic: true,
    consumer_limits: { ...info.config.consumer_limits, inactive_threshold: inactive },
  });
}

/** Opens (creating if needed) the bucket of JSON Schemas that services register, `kon_schemas`. */
export async function ensureSchemasBucket(
  nc: NatsConnection,
  names: WireNames,
  replicas = 1,
): Promise<KV> {
  const kv = await new Kvm(nc).create(names.schemasBucket, { history: 5, replicas });
  await forbidRollups(nc, `KV_${names.schemasBucket}`);
  return kv;
}

/**
 * Members of every group write one shared bucket (`kon_schemas`, each under its group's keys), so
 * a `Nats-Rollup: all` header on one member's put would wipe every group's records. The server
 * refuses rollup headers on a stream that does not allow them; nothing here purges schemas.
 */
async function forbidRollups(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  if (!info.config.allow_rollup_hdrs) return;
  await jsm.streams.update(stream, { ...info.config, allow_rollup_hdrs: false });
}

/**
 * Opens (creating if needed) `<prefix>_revoked`, the ids of revoked access tokens (key = token
 * id, value `{"revokedAt": <ms>}`), which the admin service writes and token verifiers follow.
 * One revision per key. API-token entries are kept for good (API tokens may never expire); the
 * access tokens of signed-out sessions carry a per-entry TTL (their remaining life + a margin)
 * and leave with a delete marker.
 */
export async function ensureRevokedBucket(
  nc: NatsConnection,
  names: WireNames,
  replicas = 1,
): Promise<KV> {
  return new Kvm(nc).create(names.revokedBucket, { history: 1, replicas });
}
