import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { APP_ACCOUNT } from "@konorkestra/sdk/internal";
import { memberName } from "./callout-responder";

interface ConnzReply {
  server?: { id?: string; name?: string };
  data?: { connections?: { cid: number; authorized_user?: string }[] };
  error?: { description?: string };
}

/**
 * Disconnects live member connections when their key is revoked or their group deleted: asks
 * every server for its connections in the application account (system account `CONNZ` ping; a
 * member's `authorized_user` is the name of the JWT the callout gave it, `<group>/<key id>`) and
 * kicks each match by its client id.
 * The client then reconnects through the callout, which refuses the revoked key.
 */
export class ConnectionKicker {
  /** @param sys a connection of the system account's user */
  constructor(
    private readonly sys: NatsConnection,
    private readonly logger: Logger,
  ) {}

  /** Kicks the connections opened with one key; returns how many. */
  kickKey(group: string, keyId: string): Promise<number> {
    const name = memberName(group, keyId);
    return this.kickWhere((user) => user === name);
  }

  /** Kicks every member connection of a group (deleted group); returns how many. */
  kickGroup(group: string): Promise<number> {
    const prefix = memberName(group, "");
    return this.kickWhere((user) => user.startsWith(prefix));
  }

  private async kickWhere(match: (authorizedUser: string) => boolean): Promise<number> {
    const replies = await this.sys.requestMany(
      "$SYS.REQ.SERVER.PING.CONNZ",
      JSON.stringify({ acc: APP_ACCOUNT, auth: true, limit: 1_000_000 }),
      { maxWait: 1000 },
    );
    const kicks: Promise<unknown>[] = [];
    for await (const m of replies) {
      let body: ConnzReply;
      try {
        body = m.json<ConnzReply>();
      } catch {
        continue;
      }
      const serverId = body.server?.id;
      if (!serverId || body.error) continue;
      for (const c of body.data?.connections ?? []) {
        if (!c.authorized_user || !match(c.authorized_user)) continue;
        kicks.push(
          this.sys
            .request(`$SYS.REQ.SERVER.${serverId}.KICK`, JSON.stringify({ cid: c.cid }), {
              timeout: 2000,
            })
            .catch((err: unknown) =>
              this.logger.warn(`could not kick client ${c.cid} on ${serverId}: ${String(err)}`),
            ),
        );
      }
    }
    await Promise.all(kicks);
    return kicks.length;
  }
}
