/**
 * `@konorkestra/sdk`: what an application imports. Konorkestra's own services use
 * `@konorkestra/sdk/internal` for the rules they share.
 */
export { Konorkestra } from "./konorkestra";
export type { KonorkestraRuntimeOptions } from "./konorkestra";
export type { KonorkestraOptions, OfflineStart } from "./options/konorkestra-options";
export { InvalidNameError, KonError, KonErrorCode } from "./errors";
export type { ConfigHandle } from "./config/config-handle";
export type { ChangeSetListener } from "./config/config-hub";
export { StaleConfigError } from "./config/stale-guard";
export type { GuardOptions } from "./config/stale-guard";
export type {
  AppliedChangeSet,
  ChangeHandler,
  ConfigMeta,
  ConfigOptions,
  ConfigOrigin,
  ConfigRefusal,
  ConfigSchema,
  DeepReadonly,
  PendingConfig,
  RefusalHandler,
  SliceHandler,
} from "./config/config-types";
export type { HeartbeatHandle } from "./heartbeat/heartbeat-client";
export type { HeartbeatOptions } from "./heartbeat/heartbeat-options";
export type { NodeIdSource } from "./identity";
export { consoleLogger, silentLogger } from "./logger";
export type { Logger } from "./logger";
