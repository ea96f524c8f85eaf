export { startNats, startNatsCluster } from "./nats";
export type {
  NatsCluster,
  NatsOptions,
  NatsServer,
  ServiceClientOptions,
  TestClientOptions,
  TestCredentials,
} from "./nats";
export {
  PG_TEMPLATE,
  PG_USER,
  createDatabaseFromTemplate,
  prepareTemplate,
  startPostgres,
  startPostgresServer,
  withClient,
} from "./postgres";
export type { PostgresDatabase, PostgresServer, TemplateMigration } from "./postgres";
export { startRedis } from "./redis";
export { startEtcd } from "./etcd";
export type { EtcdServer } from "./etcd";
export type { RedisServer } from "./redis";
export { getFreePort } from "./free-port";
export { pidAlive } from "./managed-process";
export { loadStackEnv } from "./stack-env";
export type { StackEnv } from "./stack-env";
export { RUN_TS, spawnTs } from "./ts-process";
export { createTestTokens, sharedTestTokens } from "./test-tokens";
export type { TestTokens } from "./test-tokens";
export { halfHeaderClient } from "./half-header-client";
export { rawGet } from "./raw-get";
export type { HalfHeaderOutcome } from "./half-header-client";
