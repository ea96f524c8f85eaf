import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  credentialOptions,
  joinKeyVerifySubject,
  parseJoinKeyCheckRequest,
  wireNames,
} from "@konorkestra/sdk/internal";
import type { JoinKeyCheckReply } from "@konorkestra/sdk/internal";
import type { NatsServer } from "@konorkestra/testkit";

/**
 * The admin service's side of the join-key check (docs/wire-contract.md, "Join-key check"), on
 * the real NATS server and the admin's own credential, answering from a fixed table: what the
 * monitor's tests talk to (the admin itself is tested against the same contract in
 * admin/test/join-key-service.int.test.ts). `asked` counts the checks that reached it.
 */
export class JoinKeyStandIn {
  asked = 0;
  readonly hosts: string[] = [];
  /** When set, every answer is this (e.g. `{ ok: false, unavailable: true }`). */
  override: JoinKeyCheckReply | undefined;

  private readonly sub: Subscription;

  private constructor(
    private readonly nc: NatsConnection,
    keys: Record<string, string>,
  ) {
    this.sub = nc.subscribe(joinKeyVerifySubject(wireNames()), {
      callback: (_err, msg) => {
        const req = parseJoinKeyCheckRequest(msg.data);
        if (req) {
          this.asked++;
          this.hosts.push(req.host);
        }
        const group = req ? keys[req.key] : undefined;
        const reply: JoinKeyCheckReply =
          this.override ?? (group ? { ok: true, group } : { ok: false });
        msg.respond(JSON.stringify(reply));
      },
    });
  }

  static async start(nats: NatsServer, keys: Record<string, string>): Promise<JoinKeyStandIn> {
    const o = nats.serviceOptions("admin");
    const nc = await connect({
      servers: o.servers,
      inboxPrefix: o.inboxPrefix,
      ...credentialOptions(o),
    });
    const standIn = new JoinKeyStandIn(nc, keys);
    await nc.flush();
    return standIn;
  }

  async stop(): Promise<void> {
    this.sub.unsubscribe();
    await this.nc.close();
  }
}
