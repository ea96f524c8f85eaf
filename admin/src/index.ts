// @konorkestra/admin: admins, groups, join keys, API tokens and audit; the NATS auth-callout
// responder attaches through createAdmin's extensions. The service runs as its own process
// (`node dist/main.js`); the entry holds the programmatic start that main.ts wraps.
export { createAdmin } from "./admin-service";
export type {
  AdminContext,
  AdminExtension,
  AdminRuntimeOptions,
  AdminService,
} from "./admin-service";
export { parseAdminOptions } from "./options";
export type { AdminOptions, ResolvedAdminOptions } from "./options";
export { JoinKeys } from "./domain/join-keys";
export type {
  GroupDeletedEvent,
  JoinKeyRevokedEvent,
  JoinKeySource,
  JoinKeyVerdict,
} from "./domain/join-keys";
export { calloutExtension } from "./callout/callout-extension";
export type { CalloutExtensionOptions } from "./callout/callout-extension";
export { CalloutResponder, memberName } from "./callout/callout-responder";
export type { JoinKeyVerifier } from "./callout/callout-responder";
export { ConnectionKicker } from "./callout/connection-kicker";
