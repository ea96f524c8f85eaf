/**
 * `@konorkestra/sdk/internal`: the one home of the rules Konorkestra's own services share — names
 * on the wire and their parsers, event kinds, headers, the `kon_schemas` record, the config-file
 * rules, option and environment readers, and how a service connects to NATS. Applications import
 * `@konorkestra/sdk`; nothing here is a stable public API. docs/wire-contract.md states these
 * rules for clients in other languages.
 */

// Names on the wire and their parsers.
export {
  GROUP_NAME,
  PREFIX,
  assertConfigKey,
  assertGroupName,
  assertNodeId,
  isGroupName,
  isNodeId,
  kvSubject,
  kvSubjectPrefix,
  nodeKey,
  parseNodeKey,
  wireNames,
} from "./wire/names";
export type {
  EventAddress,
  HeartbeatAddress,
  HeartbeatSubjectCheck,
  WireNames,
} from "./wire/names";
export {
  CONFIG_EVENT_WORDS,
  NODE_EVENT_WORDS,
  assertEventKind,
  configEventKind,
  configEventWord,
  isEventKind,
  isNodeEventWord,
  nodeEventKind,
  nodeEventWord,
} from "./wire/event-kinds";
export type { ConfigEventWord, EventKind, NodeEventWord } from "./wire/event-kinds";
export { KonHeader, NatsHeader } from "./wire/headers";
export {
  SCHEMA_GRACE_MS,
  liveSchemaRecords,
  parseSchemaRecord,
  parseSchemaRecords,
  schemaRecordKey,
  schemaVersion,
} from "./wire/schema-record";
export type { SchemaRecord } from "./wire/schema-record";
// The one JSON Schema rule: the loader checks files with it, the admin's config API writes.
export {
  JsonSchemaCache,
  compileJsonSchema,
  schemaViolations,
} from "./config-files/json-schema-validator";
export type {
  CompiledJsonSchema,
  JsonSchemaViolation,
  SchemaViolationOf,
} from "./config-files/json-schema-validator";
export {
  CONFIG_CONSUMER_MAX_INACTIVE_MS,
  ensureConfigBucket,
  ensureRevokedBucket,
  ensureSchemasBucket,
} from "./wire/buckets";
export { ensureStreams } from "./wire/streams";
export { parseAckSubject, parseAckSubjectBytes } from "./wire/ack-subject";

// Heartbeats as the SDK builds them (simulators and the monitor's HTTP ingest).
export { buildHeartbeat, sdkVersion } from "./heartbeat/heartbeat-message";
export type { HeartbeatIdentity } from "./heartbeat/heartbeat-message";
export { MAX_META_BYTES, MIN_INTERVAL_MS } from "./heartbeat/heartbeat-options";
export type { AppliedRevision } from "./applied-registry";
export { resolveNodeId, toNodeIdToken } from "./identity";

// Options, environment, connection.
export { envBool, envList, envNumber, envString } from "./options/env-readers";
export {
  maxValueBytesOption,
  mergeNatsOptions,
  natsAuthOf,
  natsOptionsShape,
  parseOptionsWith,
} from "./options/common-options";
export type { NatsAuth, NatsOptions } from "./options/common-options";
export {
  connectService,
  credentialOptions,
  taggedLogger,
  watchConnection,
} from "./nats/connect-service";
export { checkGroupAccess, groupRefusedError, isPermissionDenied } from "./nats/group-access";
export { createHardenedServer, readHttpLimits } from "./http/harden-server";
export type { HttpLimits } from "./http/harden-server";
export { WireReader, bytesContain, wireReader } from "./nats/wire-reader";
export type { WireMsg, WireTap } from "./nats/wire-reader";

// Config-file rules: what a config folder means — which files are config, the key each names, how
// a file becomes a canonical JSON value (unique keys, sorted, size limit) and which files are
// refused. The config-loader publishes by them and the SDK's `file:` source reads by them.
export { sha256Hex } from "./config/stable-hash";
export {
  DEFAULT_MAX_VALUE_BYTES,
  parseConfigBytes,
  valueShapeProblem,
} from "./config-files/config-file-parser";
export { nestsDeeperThan } from "./config-files/json-shape";
export { MAX_NESTING } from "./config-files/yaml-reader";
export type { ParsedConfig, SourceProblem } from "./config-files/config-file-parser";
export {
  groupNameProblem,
  isIgnoredName,
  keyForPath,
  pathStemForKey,
} from "./config-files/key-mapper";
export type { SourceFormat } from "./config-files/key-mapper";
export {
  DEFAULT_GROUP_SETTINGS,
  DEFAULT_PREPARE_TIMEOUT_MS,
  KON_DIR,
  groupSettingsPath,
  readGroupSettings,
} from "./config-files/group-settings";
export type { Consistency, GroupSettings, SettingsReading } from "./config-files/group-settings";
export { writeIntentPath } from "./config-files/write-intent";
export type { WriteIntentRecord } from "./config-files/write-intent";
export { isUnderRoot, resolveRoot, scanGroup, scanTree } from "./config-files/tree-scanner";
export { ReadCache } from "./config-files/read-cache";
export type { GroupScan, ScannedFile } from "./config-files/tree-scanner";
export { readGroupFiles } from "./config-files/group-files";

// Liveness rules: the TTL a heartbeat's timing buys, and the names the liveness monitor writes
// (its consumer, `kon_nodes` records, membership leases, node event ids and subjects).
export {
  MAX_INTERVAL_MS,
  MAX_MISSES,
  MONITOR_ID,
  livenessTtlMs,
  monitorConsumerName,
  monitorLeaseFilter,
  monitorLeaseSubject,
  natsTtl,
  nodeEventId,
  nodeEventSubject,
  nodeRecordFilter,
  nodeRecordSubject,
  parseMonitorLeaseSubject,
  parseNodeEventId,
  parseNodeRecordSubject,
} from "./wire/liveness";

// Who may do what on NATS.
export {
  APP_ACCOUNT,
  AUTH_CALLOUT_SUBJECT,
  SYSTEM_ROLES,
  groupInboxPrefix,
  groupMemberPermissions,
  joinKeyVerifySubject,
  prepareReplyPrefix,
  serviceInboxPrefix,
  servicePermissions,
} from "./wire/permissions";
export type { SubjectPermissions, SystemRole } from "./wire/permissions";
export {
  MAX_JOIN_KEY_LENGTH,
  parseJoinKeyCheckReply,
  parseJoinKeyCheckRequest,
} from "./wire/join-key-check";
export type { JoinKeyCheckReply, JoinKeyCheckRequest } from "./wire/join-key-check";
export { renderServerAccounts } from "./wire/server-accounts";
export type { ServerAccountsSpec } from "./wire/server-accounts";

// Access tokens of the HTTP APIs: format, signing, offline verification, revocation list.
export {
  ACCESS_TOKEN_VERSION,
  MAX_TOKEN_GROUPS,
  SCOPES,
  TOKEN_ID,
  accessTokenPublicKey,
  groupAllowed,
  newTokenId,
  scopeAllows,
  sessionRevocationKey,
  signAccessToken,
  verifyAccessToken,
} from "./auth/access-token";
export type {
  AccessClaims,
  AccessRefusal,
  AccessTokenType,
  AccessVerdict,
  Scope,
  VerifyAccessOptions,
} from "./auth/access-token";
export { RevocationList } from "./auth/revocation-list";
export type { RevocationListOptions, RevocationRecord } from "./auth/revocation-list";

// The HTTP edge every service puts before its routes: Host allow-list, CORS, access tokens,
// signed webhooks, and the options that configure them.
export { AccessGate, bearerToken } from "./http-edge/access-gate";
export type { AccessGateOptions, RevocationView } from "./http-edge/access-gate";
export { CorsPolicy } from "./http-edge/cors-policy";
export type { CorsDecision } from "./http-edge/cors-policy";
export { EdgeCode, edgeRefusal } from "./http-edge/edge-refusal";
export type { EdgeRefusal } from "./http-edge/edge-refusal";
export {
  groupScopeVerdict,
  notForGroupRefusal,
  undeclaredRouteRefusal,
} from "./http-edge/group-scope";
export type { GroupScope, GroupScopeVerdict } from "./http-edge/group-scope";
export { groupScopeGuard, isGroupScopeGuard } from "./http-edge/group-scope-guard";
export type { ScopeRouter, ScopedRoute } from "./http-edge/group-scope-guard";
export { HostAllowList } from "./http-edge/host-allow-list";
export { HttpEdge } from "./http-edge/http-edge";
export { edgeMiddleware, sendEdgeAnswer } from "./http-edge/edge-middleware";
export {
  CONTENT_SECURITY_POLICY,
  SECURITY_HEADERS,
  securityHeaders,
} from "./http-edge/security-headers";
export type { EdgeRequest, EdgeVerdict } from "./http-edge/http-edge";
export {
  accessAuthOptionsShape,
  httpEdgeOptionsShape,
  mergeAccessAuthOptions,
  mergeHttpEdgeOptions,
  readSecretFile,
  resolveAccessAuth,
} from "./http-edge/http-edge-options";
export type {
  AccessAuthMode,
  AccessAuthOptions,
  HttpEdgeOptions,
} from "./http-edge/http-edge-options";
export {
  WEBHOOK_SIGNATURE_HEADER,
  verifyWebhookSignature,
  webhookSignature,
} from "./http-edge/webhook-signature";

export { describeServers, redactSecrets } from "./redact";
export {
  MAX_NODES_LIMIT,
  configKeyParam,
  encodeNodeCursor,
  groupParam,
  invalidNameMessage,
  nodeCursorParam,
  nodeParam,
  parseInput,
  quoteRefused,
  strictQuery,
  wholeNumberParam,
} from "./http-edge/query-params";
export type { NodeCursorKey } from "./http-edge/query-params";
