import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { CalloutResponder } from "@konorkestra/admin";
import { silentLogger } from "@konorkestra/sdk";
import { credentialOptions, groupInboxPrefix } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { NatsServer } from "@konorkestra/testkit";
import type { MemberConnection } from "./fleet-simulator";

/** A group's join key and the auth callout that admits it, for the bench's simulated nodes. */
export interface MemberAuth {
  /** Join keys checked so far (one per connection the nodes opened). */
  callouts(): number;
  /**
   * A connection of the group's nodes: the join key as its token, TLS, the member's inbox; to
   * `server` (a URL) when given, else to the first server.
   */
  connectMember(name: string, server?: string): Promise<NatsConnection>;
  /** The same, as options for a connection made in another process. */
  readonly member: MemberConnection;
  close(): Promise<void>;
}

/**
 * The admin's real auth-callout responder (`@konorkestra/admin`'s `CalloutResponder`, on the
 * admin role's credential) with a fixed join-key verifier, as the tests that join members run
 * it: a node connects with its group's join key as its token and gets a user JWT with exactly
 * `groupMemberPermissions(group)`, as a service using the SDK does. The verifier stands in for
 * the admin's argon2 check of a stored key (cached after the first success in the admin), so
 * the bench needs no PostgreSQL. It runs in the bench process: its CPU is in the bench's. In a
 * cluster, pass any one server: the servers share the callout's account, so the responder
 * answers for all of them.
 */
export async function startMemberAuth(
  nats: NatsServer,
  names: WireNames,
  group: string,
): Promise<MemberAuth> {
  const a = nats.serviceOptions("admin");
  const adminNc = await connect({
    servers: a.servers,
    inboxPrefix: a.inboxPrefix,
    name: "bench-auth-callout",
    ...credentialOptions(a),
  });
  const joinKey = `bench-${randomBytes(18).toString("base64url")}`;
  let checked = 0;
  const responder = new CalloutResponder({
    nc: adminNc,
    names,
    issuerSeed: nats.credentials.calloutIssuerSeed,
    verifier: {
      verify: (key) => {
        checked++;
        return Promise.resolve(
          key === joinKey
            ? { ok: true, group, keyId: "BENCHKEY" }
            : { ok: false, reason: "not the bench's join key" },
        );
      },
    },
    logger: silentLogger,
  });
  responder.start();
  await adminNc.flush();
  const { tls } = nats.clientOptions();
  const member: MemberConnection = {
    servers: [nats.url],
    ...(tls ? { caFile: tls.caFile } : {}),
    token: joinKey,
    inboxPrefix: groupInboxPrefix(names, group),
    prefix: names.prefix,
  };
  return {
    member,
    callouts: () => checked,
    connectMember: (name, server) =>
      connect({
        servers: [server ?? nats.url],
        ...(tls ? { tls } : {}),
        token: joinKey,
        inboxPrefix: groupInboxPrefix(names, group),
        name,
      }),
    close: async () => {
      await responder.stop();
      await adminNc.close();
    },
  };
}
