// @konorkestra/config-loader: watches a config folder and publishes it to NATS KV (see README).
export { ConfigLoader, createConfigLoader } from "./config-loader";
export { parseConfigLoaderOptions } from "./options";
export type { ConfigLoaderOptions, ResolvedLoaderOptions } from "./options";
export type { LoaderHealth, ReconcileReport } from "./reconcile-report";
export type { ChangeSetReport, GroupSyncResult, RejectedFile } from "./group-sync";
export { MAX_BATCH_MESSAGES, publishAtomicBatch } from "./atomic-batch";
export type { BatchAck, BatchMessage } from "./atomic-batch";
export { compileSchema } from "./schema-registry";
