export { Konorkestra } from "./konorkestra";
export type { KonorkestraRuntimeOptions } from "./konorkestra";
export { parseKonorkestraOptions } from "./options";
export type { KonorkestraOptions, ResolvedOptions } from "./options";
export { AppliedRegistry } from "./applied-registry";
export type { AppliedRevision } from "./applied-registry";
export { InvalidNameError, KonError, KonErrorCode } from "./errors";
export { firstMac, resolveNodeId, toNodeIdToken } from "./identity";
export type { NetworkInterfaces, NodeIdOptions, NodeIdSource } from "./identity";
export { HeartbeatClient } from "./heartbeat/heartbeat-client";
export type {
  HeartbeatHandle,
  HeartbeatHost,
  HeartbeatLineage,
} from "./heartbeat/heartbeat-client";
export {
  buildHeartbeat,
  configRevisions,
  nextBeatSlot,
  sdkVersion,
} from "./heartbeat/heartbeat-message";
export type { HeartbeatIdentity, HeartbeatState } from "./heartbeat/heartbeat-message";
export {
  MAX_META_BYTES,
  MAX_META_ENTRIES,
  MIN_INTERVAL_MS,
  parseHeartbeatOptions,
} from "./heartbeat/heartbeat-options";
export type { HeartbeatOptions, ResolvedHeartbeatOptions } from "./heartbeat/heartbeat-options";
export { ConfigHandle } from "./config/config-handle";
export type { ChangeSetListener } from "./config/config-hub";
export type {
  AppliedChangeSet,
  ChangeHandler,
  ConfigMeta,
  ConfigOptions,
  ConfigOrigin,
  ConfigSchema,
  DeepReadonly,
  SliceHandler,
} from "./config/config-types";
export { configJsonSchema } from "./config/schema-registration";
export type { RegisteredSchema } from "./config/schema-registration";
export { consoleLogger, silentLogger } from "./logger";
export type { Logger } from "./logger";
export { GROUP_NAME, assertConfigKey, assertGroupName, assertNodeId, wireNames } from "./names";
export type { WireNames } from "./names";
export { ensureConfigBucket, ensureSchemasBucket } from "./buckets";
export type { ConfigBucketOptions } from "./buckets";
export { ensureStreams, streamConfigs } from "./streams";
export type { StreamOptions } from "./streams";
