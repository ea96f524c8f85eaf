import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { Counter } from "prom-client";
import type { Logger } from "@konorkestra/sdk";
import {
  joinKeyVerifySubject,
  parseJoinKeyCheckRequest,
  taggedLogger,
} from "@konorkestra/sdk/internal";
import type { JoinKeyCheckReply, WireNames } from "@konorkestra/sdk/internal";
import type { AdminContext, AdminExtension } from "../admin-service";
import type { JoinKeyVerifier } from "./callout-responder";

export interface JoinKeyServiceOptions {
  /** The admin's connection (its credential may subscribe to the verify subject and respond). */
  nc: NatsConnection;
  names: WireNames;
  verifier: JoinKeyVerifier;
  logger: Logger;
  /** Called with each answer's outcome, for metrics. */
  onAnswer?: (outcome: "admitted" | "refused" | "limited" | "failed") => void;
}

/**
 * Answers join-key checks for services that cannot read the admin's database — the liveness
 * monitor's HTTP ingest — on `<prefix>.admin.joinkey.verify` (docs/wire-contract.md, "Join-key
 * check"). The reply names the group a key admits to, or says no without saying why; the
 * verifier's own rate limits (per source host, per key id) apply as for NATS connections.
 */
export class JoinKeyService {
  private sub: Subscription | undefined;

  constructor(private readonly opts: JoinKeyServiceOptions) {}

  /** Subscribes in a queue group, so several admin instances share the checks. */
  start(): void {
    this.sub = this.opts.nc.subscribe(joinKeyVerifySubject(this.opts.names), {
      queue: "kon-admin-joinkey",
      callback: (err, msg) => {
        if (err) {
          this.opts.logger.warn(`join-key check subscription: ${err.message}`);
          return;
        }
        void this.answer(msg);
      },
    });
  }

  async stop(): Promise<void> {
    await this.sub?.drain().catch(() => undefined);
  }

  private async answer(msg: Msg): Promise<void> {
    const reply = await this.decide(msg.data);
    const outcome = reply.ok
      ? "admitted"
      : reply.unavailable
        ? "failed"
        : reply.retryAfterMs
          ? "limited"
          : "refused";
    this.opts.onAnswer?.(outcome);
    msg.respond(JSON.stringify(reply));
  }

  private async decide(data: Uint8Array): Promise<JoinKeyCheckReply> {
    const req = parseJoinKeyCheckRequest(data);
    if (!req) return { ok: false };
    try {
      const v = await this.opts.verifier.verify(req.key, { host: req.host || "unknown" });
      if (v.ok) return { ok: true, group: v.group };
      return v.retryAfterMs !== undefined
        ? { ok: false, retryAfterMs: v.retryAfterMs }
        : { ok: false };
    } catch (err) {
      // The cause (a database error) stays here; the asker learns only that no verdict was made.
      this.opts.logger.warn(`join-key check failed: ${(err as Error).message}`);
      return { ok: false, unavailable: true };
    }
  }
}

/** The join-key check as an admin extension: answers with the admin's own join-key domain. */
export function joinKeyServiceExtension(): AdminExtension {
  return async (ctx: AdminContext) => {
    const answers = new Counter({
      name: "kon_admin_joinkey_checks_answered_total",
      help: "Join-key checks answered for other services (the monitor's HTTP ingest), by outcome",
      labelNames: ["outcome"] as const,
      registers: [ctx.metrics.registry],
    });
    const service = new JoinKeyService({
      nc: ctx.nc,
      names: ctx.names,
      verifier: ctx.joinKeys,
      logger: taggedLogger(ctx.logger, "joinkey"),
      onAnswer: (outcome) => answers.inc({ outcome }),
    });
    service.start();
    await ctx.nc.flush();
    return { close: () => service.stop() };
  };
}
