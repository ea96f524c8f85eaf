import { readFileSync } from "node:fs";
import { Counter } from "prom-client";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { credentialOptions, taggedLogger } from "@konorkestra/sdk/internal";
import type { AdminContext, AdminExtension } from "../admin-service";
import { CalloutResponder } from "./callout-responder";
import { ConnectionKicker } from "./connection-kicker";

export interface CalloutExtensionOptions {
  /** File of the account seed (`SA…`) the NATS server trusts as the callout's issuer. */
  issuerSeedFile: string;
  /**
   * Seed file of the system-account user, to kick the live connections of a revoked key or a
   * deleted group (same servers and TLS as the admin's own connection). Without it revocation
   * still refuses new connections, and live ones end when their user JWT expires.
   */
  systemSeedFile?: string;
  /** Lifetime of a member's user JWT. @default 1 h */
  userTtlMs?: number;
}

function readSeed(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new Error(
      `cannot read the callout issuer seed file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/**
 * The NATS auth callout inside the admin service: answers the server's requests with the
 * admin's join-key checks, and kicks the connections of keys that stop admitting (revoked, past
 * their rotation grace period, group deleted).
 */
export function calloutExtension(opts: CalloutExtensionOptions): AdminExtension {
  return async (ctx: AdminContext) => {
    const logger = taggedLogger(ctx.logger, "callout");
    const answers = new Counter({
      name: "kon_admin_callout_answers_total",
      help: "Auth-callout answers by outcome (admitted, refused, failed)",
      labelNames: ["outcome"] as const,
      registers: [ctx.metrics.registry],
    });
    const kicked = new Counter({
      name: "kon_admin_connections_kicked_total",
      help: "Member connections closed because their key stopped admitting",
      registers: [ctx.metrics.registry],
    });
    const responder = new CalloutResponder({
      nc: ctx.nc,
      names: ctx.names,
      issuerSeed: readSeed(opts.issuerSeedFile),
      verifier: ctx.joinKeys,
      userTtlMs: opts.userTtlMs,
      logger,
      onAnswer: (outcome) => answers.inc({ outcome }),
    });
    responder.start();
    await ctx.nc.flush();

    let sys: NatsConnection | undefined;
    const unlisten: (() => void)[] = [];
    if (opts.systemSeedFile) {
      const { tlsCa, tlsCert, tlsKey } = ctx.options;
      sys = await connect({
        servers: ctx.options.servers,
        name: "kon:admin:system",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        ...credentialOptions({ nkeySeedFile: opts.systemSeedFile, tlsCa, tlsCert, tlsKey }),
      });
      const kicker = new ConnectionKicker(sys, logger);
      const report = (what: string) => (n: number) => {
        kicked.inc(n);
        if (n > 0) logger.info(`${what}: closed ${n} live connection(s)`);
      };
      const failed = (err: unknown): void =>
        logger.warn(`could not kick connections: ${String(err)}`);
      unlisten.push(
        ctx.joinKeys.onJoinKeyRevoked((e) =>
          kicker
            .kickKey(e.group, e.keyId)
            .then(report(`key ${e.keyId} of ${e.group} ${e.reason}`), failed),
        ),
        ctx.joinKeys.onGroupDeleted((e) =>
          kicker.kickGroup(e.group).then(report(`group ${e.group} deleted`), failed),
        ),
      );
    } else {
      logger.warn(
        "no system-account credential: revoked keys' live connections stay until their JWT expires",
      );
    }
    return {
      close: async () => {
        for (const u of unlisten) u();
        await responder.stop();
        await sys?.close().catch(() => undefined);
      },
    };
  };
}
