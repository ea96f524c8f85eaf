import type { WireNames } from "./names";

/**
 * What one NATS credential may publish and subscribe to. The server enforces it: for a group
 * member the auth callout puts it into the user JWT it issues; for a system service it is written
 * into the server's account configuration. `deny` wins over `allow`.
 */
export interface SubjectPermissions {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[]; deny: string[] };
  /** May publish to the reply subject of a request it received (a responder). */
  allowResponses: boolean;
}

/** The system services, each with its own credential. */
export const SYSTEM_ROLES = ["config-loader", "monitor", "analytics", "admin"] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];

/**
 * Inbox prefix of a group member's connection: `_<prefix>_in.g.<group>`. Replies to its requests
 * and its KV watch deliveries arrive under it, and it may subscribe nowhere else, so one group
 * cannot read the replies (config values) meant for another.
 */
export function groupInboxPrefix(names: WireNames, group: string): string {
  return `_${names.prefix}_in.g.${group}`;
}

/** Inbox prefix of a system service's connection: `_<prefix>_in.s.<role>`. */
export function serviceInboxPrefix(names: WireNames, role: SystemRole): string {
  return `_${names.prefix}_in.s.${role}`;
}

/**
 * Reply subjects of one group's prepare rounds: `_<prefix>_in.s.config-loader.prep.<group>`. The
 * loader collects votes under `<this>.<prepare id>`; a member may publish only under its own
 * group's, so a node of one group can never vote in another's round.
 */
export function prepareReplyPrefix(names: WireNames, group: string): string {
  return `${serviceInboxPrefix(names, "config-loader")}.prep.${group}`;
}

/**
 * Where the liveness monitor asks the admin service whether a join key admits to a group (its
 * HTTP ingest authenticates with join keys; only the admin can check them): `<prefix>.admin.joinkey.verify`.
 */
export function joinKeyVerifySubject(names: WireNames): string {
  return `${names.prefix}.admin.joinkey.verify`;
}

/** The KV buckets only system services write (none of them holds config). */
function systemBuckets(names: WireNames): string[] {
  return [
    names.nodesBucket,
    names.monitorsBucket,
    names.groupsBucket,
    names.schemasBucket,
    names.revokedBucket,
  ];
}

/** Streams no service may delete: the shared streams and the system buckets' streams. */
function protectedStreams(names: WireNames): string[] {
  return [names.heartbeatStream, names.eventStream, ...systemBuckets(names).map((b) => `KV_${b}`)];
}

/** JetStream API calls no service makes: data destruction and cluster administration. */
const DESTRUCTIVE_API = [
  "$JS.API.STREAM.PURGE.>",
  "$JS.API.STREAM.MSG.DELETE.>",
  "$JS.API.STREAM.SNAPSHOT.>",
  "$JS.API.STREAM.RESTORE.>",
  "$JS.API.STREAM.PEER.>",
  "$JS.API.STREAM.LEADER.>",
  "$JS.API.CONSUMER.LEADER.>",
  "$JS.API.META.>",
  "$JS.API.SERVER.>",
  "$JS.API.ACCOUNT.>",
];

/**
 * A member of `group` (a service that joined with the group's join key): reads its own config
 * bucket (stream info, an ordered consumer on it, direct gets, flow control), publishes its
 * heartbeats and its `config.applied` / `config.rejected` events, and registers schemas for its
 * group's keys. Nothing else: no other bucket, no stream or consumer outside its bucket, no
 * deletion, no other group's subjects.
 */
export function groupMemberPermissions(names: WireNames, group: string): SubjectPermissions {
  const cfg = `KV_${names.configBucket(group)}`;
  const schemas = `KV_${names.schemasBucket}`;
  const evt = `${names.prefix}.evt.${group}`;
  return {
    publish: {
      allow: [
        `${names.prefix}.hb.${group}.>`,
        `${evt}.config.applied`,
        `${evt}.config.rejected`,
        "$JS.API.INFO",
        `$JS.API.STREAM.INFO.${cfg}`,
        `$JS.API.CONSUMER.CREATE.${cfg}`,
        `$JS.API.CONSUMER.CREATE.${cfg}.>`,
        `$JS.API.CONSUMER.INFO.${cfg}.>`,
        `$JS.API.CONSUMER.DELETE.${cfg}.>`,
        `$JS.API.DIRECT.GET.${cfg}`,
        `$JS.API.DIRECT.GET.${cfg}.>`,
        `$JS.API.STREAM.MSG.GET.${cfg}`,
        `$JS.FC.${cfg}.>`,
        `$JS.API.STREAM.INFO.${schemas}`,
        `$JS.API.DIRECT.GET.${schemas}.$KV.${names.schemasBucket}.${group}.>`,
        `$KV.${names.schemasBucket}.${group}.>`,
        // Votes on the group's STRONG writes (PrepareVote), to the loader's reply subjects.
        `${prepareReplyPrefix(names, group)}.>`,
      ],
      // A durable consumer would outlive the member and hold the bucket's messages for it.
      deny: [`$JS.API.CONSUMER.DURABLE.>`],
    },
    subscribe: {
      allow: [`${groupInboxPrefix(names, group)}.>`, names.prepareSubject(group)],
      deny: [],
    },
    allowResponses: false,
  };
}

/** Everything but data destruction on the JetStream API, for services that manage streams. */
function managingApi(): { allow: string[]; deny: string[] } {
  return { allow: ["$JS.API.>", "$JS.FC.>", "$JS.ACK.>"], deny: [...DESTRUCTIVE_API] };
}

/**
 * A system service's rights:
 * - `config-loader` writes the config buckets (every bucket but the system ones) and config
 *   events, and creates config buckets and the shared streams;
 * - `monitor` writes `kon_nodes`, `kon_monitors` and node events, consumes heartbeats; its HTTP
 *   ingest asks the admin to check join keys and publishes the beats it admitted;
 * - `analytics` only consumes (its durable consumers on the two streams, direct gets) and may
 *   create the two streams it reads when they are missing;
 * - `admin` writes `kon_groups` and the revocation list, creates and deletes group buckets, and
 *   answers the server's auth-callout requests and the monitor's join-key checks; its config API
 *   reads config events and purges old tombstones of config buckets (never writes config: the
 *   loader publishes what the API commits into the folder).
 * None may purge or delete the shared streams or the system buckets.
 */
export function servicePermissions(names: WireNames, role: SystemRole): SubjectPermissions {
  const inbox = `${serviceInboxPrefix(names, role)}.>`;
  const deleteStream = protectedStreams(names).map((s) => `$JS.API.STREAM.DELETE.${s}`);
  const sysBucketWrites = systemBuckets(names).map((b) => `$KV.${b}.>`);
  const api = managingApi();
  switch (role) {
    case "config-loader":
      return {
        publish: {
          allow: [
            ...api.allow,
            "$KV.>",
            `${names.prefix}.evt.*.config.>`,
            // STRONG writes: candidates to every group's members (votes come to its inbox).
            `${names.prefix}.prep.*`,
          ],
          deny: [...api.deny, "$JS.API.STREAM.DELETE.>", ...sysBucketWrites],
        },
        subscribe: { allow: [inbox], deny: [] },
        allowResponses: false,
      };
    case "monitor":
      return {
        publish: {
          allow: [
            ...api.allow,
            `$KV.${names.nodesBucket}.>`,
            `$KV.${names.monitorsBucket}.>`,
            `${names.prefix}.evt.*.node.>`,
            // HTTP ingest publishes the beats of clients whose join key it checked.
            `${names.prefix}.hb.>`,
            joinKeyVerifySubject(names),
          ],
          deny: [...api.deny, "$JS.API.STREAM.DELETE.>"],
        },
        subscribe: { allow: [inbox], deny: [] },
        allowResponses: false,
      };
    case "analytics":
      return {
        publish: {
          allow: [
            "$JS.API.INFO",
            "$JS.API.STREAM.INFO.>",
            "$JS.API.STREAM.NAMES",
            "$JS.API.STREAM.LIST",
            `$JS.API.STREAM.CREATE.${names.heartbeatStream}`,
            `$JS.API.STREAM.CREATE.${names.eventStream}`,
            "$JS.API.CONSUMER.>",
            "$JS.API.DIRECT.GET.>",
            "$JS.API.STREAM.MSG.GET.>",
            `$JS.ACK.${names.heartbeatStream}.>`,
            `$JS.ACK.${names.eventStream}.>`,
            "$JS.FC.>",
          ],
          deny: [],
        },
        subscribe: { allow: [inbox], deny: [] },
        allowResponses: false,
      };
    case "admin":
      return {
        publish: {
          allow: [
            ...api.allow,
            `$KV.${names.groupsBucket}.>`,
            `$KV.${names.revokedBucket}.>`,
            `$KV.${names.schemasBucket}.>`,
          ],
          // Config compaction purges a config bucket's old delete tombstones, so purging is
          // allowed on the config buckets' streams and on no protected stream.
          deny: [
            ...api.deny.filter((s) => s !== "$JS.API.STREAM.PURGE.>"),
            ...protectedStreams(names).map((s) => `$JS.API.STREAM.PURGE.${s}`),
            ...deleteStream,
          ],
        },
        subscribe: {
          allow: [
            inbox,
            AUTH_CALLOUT_SUBJECT,
            joinKeyVerifySubject(names),
            // The config API waits for the loader's (and nodes') outcome of the change it wrote.
            `${names.prefix}.evt.*.config.>`,
          ],
          deny: [],
        },
        allowResponses: true,
      };
  }
}

/** Where nats-server sends auth-callout requests. */
export const AUTH_CALLOUT_SUBJECT = "$SYS.REQ.USER.AUTH";

/** Name of the account every Konorkestra client lives in (the callout's target account). */
export const APP_ACCOUNT = "KON";
