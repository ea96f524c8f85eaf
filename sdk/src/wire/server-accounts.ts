import type { WireNames } from "./names";
import { APP_ACCOUNT, SYSTEM_ROLES, servicePermissions } from "./permissions";
import type { SubjectPermissions, SystemRole } from "./permissions";

/** The public halves of the credentials a Konorkestra NATS server knows by itself. */
export interface ServerAccountsSpec {
  names: WireNames;
  /** Public account nkey (`A…`) whose seed signs the auth callout's answers (admin holds it). */
  calloutIssuer: string;
  /** Public user nkey (`U…`) of each system service. */
  serviceKeys: Record<SystemRole, string>;
  /** Public user nkey of the system-account user (monitoring, kicking revoked connections). */
  systemKey: string;
  /** An extra all-rights user of the application account, for test harnesses only. */
  testUser?: { user: string; pass: string };
  /** Seconds a client has to authenticate (the callout's round trip included). @default 3 */
  authTimeoutSec?: number;
}

const q = (s: string): string => JSON.stringify(s);

function renderPermissions(p: SubjectPermissions): string {
  const part = (x: { allow: string[]; deny: string[] }): string =>
    `{ allow: [${x.allow.map(q).join(", ")}]${x.deny.length ? `, deny: [${x.deny.map(q).join(", ")}]` : ""} }`;
  const responses = p.allowResponses ? ", allow_responses: true" : "";
  return `{ publish: ${part(p.publish)}, subscribe: ${part(p.subscribe)}${responses} }`;
}

/**
 * The accounts and authorization part of nats-server's configuration:
 * - account `KON` (JetStream on) holds every Konorkestra client. Each system service is an nkey
 *   user with the rights of {@link servicePermissions}; group members are not listed: the auth
 *   callout admits them with a short-lived user JWT scoped to their group;
 * - account `SYS` is the system account, with one nkey user;
 * - `auth_callout` sends every other connection to the admin service's responder, so no client is
 *   anonymous and an unknown credential is refused.
 */
export function renderServerAccounts(spec: ServerAccountsSpec): string {
  const users = SYSTEM_ROLES.map(
    (role) =>
      `      { nkey: ${q(spec.serviceKeys[role])}, permissions: ${renderPermissions(servicePermissions(spec.names, role))} }`,
  );
  if (spec.testUser) {
    users.push(`      { user: ${q(spec.testUser.user)}, password: ${q(spec.testUser.pass)} }`);
  }
  const authUsers = [
    ...SYSTEM_ROLES.map((r) => spec.serviceKeys[r]),
    spec.systemKey,
    ...(spec.testUser ? [spec.testUser.user] : []),
  ];
  return [
    `accounts {`,
    `  ${APP_ACCOUNT} {`,
    `    jetstream: enabled`,
    `    users: [`,
    users.join("\n"),
    `    ]`,
    `  }`,
    `  SYS {`,
    `    users: [ { nkey: ${q(spec.systemKey)} } ]`,
    `  }`,
    `}`,
    `system_account: SYS`,
    `authorization {`,
    `  timeout: ${spec.authTimeoutSec ?? 3}`,
    `  auth_callout {`,
    `    issuer: ${q(spec.calloutIssuer)}`,
    `    account: ${APP_ACCOUNT}`,
    `    auth_users: [${authUsers.map(q).join(", ")}]`,
    `  }`,
    `}`,
    ``,
  ].join("\n");
}
