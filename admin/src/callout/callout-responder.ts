import { decode, encodeAuthorizationResponse, encodeUser } from "@nats-io/jwt";
import type { AuthorizationRequest, ClaimsData } from "@nats-io/jwt";
import { fromSeed } from "@nats-io/nkeys";
import type { KeyPair } from "@nats-io/nkeys";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import {
  APP_ACCOUNT,
  AUTH_CALLOUT_SUBJECT,
  groupMemberPermissions,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";

/** The answer of a join-key check: the group the key admits to, or a refusal. */
export type JoinKeyVerdict =
  { ok: true; group: string; keyId: string } | { ok: false; reason: string; retryAfterMs?: number };

/** What the responder asks about a key; the admin service's join-key domain answers. */
export interface JoinKeyVerifier {
  verify(key: string, source: { host: string }): Promise<JoinKeyVerdict>;
}

export interface CalloutResponderOptions {
  /** A connection whose rights include subscribing to `$SYS.REQ.USER.AUTH` and responding. */
  nc: NatsConnection;
  names: WireNames;
  /** Seed (`SA…`) of the account key the server trusts as the callout's issuer. */
  issuerSeed: string;
  verifier: JoinKeyVerifier;
  /** Lifetime of the user JWT a member gets; it reconnects (and is checked again) after. @default 1 h */
  userTtlMs?: number;
  logger: Logger;
  /** Sees each answer's outcome (for metrics). */
  onAnswer?: (outcome: keyof CalloutCounts) => void;
}

/** Counters of the responder's answers, for /metrics. */
export interface CalloutCounts {
  admitted: number;
  refused: number;
  failed: number;
}

/**
 * Name of a member's user JWT, `<group>/<key id>`: the server shows it as the connection's
 * `authorized_user`, which is how revocation finds the connections a key opened.
 */
export function memberName(group: string, keyId: string): string {
  return `${group}/${keyId}`;
}

/**
 * Answers nats-server's auth-callout requests: a client that presents a group's join key (as its
 * connect token) gets a user JWT in the application account with exactly that group's rights
 * ({@link groupMemberPermissions}) and a short expiry; every other client is refused. The
 * request's user nkey becomes the JWT's subject, so the answer is good for that connection only.
 */
export class CalloutResponder {
  private sub: Subscription | undefined;
  private readonly issuer: KeyPair;
  readonly counts: CalloutCounts = { admitted: 0, refused: 0, failed: 0 };

  constructor(private readonly opts: CalloutResponderOptions) {
    this.issuer = fromSeed(new TextEncoder().encode(opts.issuerSeed));
  }

  /** Subscribes (in a queue group, so several admin instances share the requests). */
  start(): void {
    this.sub = this.opts.nc.subscribe(AUTH_CALLOUT_SUBJECT, {
      queue: "kon-admin-callout",
      callback: (err, msg) => {
        if (err) {
          this.opts.logger.warn(`auth callout subscription: ${err.message}`);
          return;
        }
        void this.answer(msg);
      },
    });
  }

  async stop(): Promise<void> {
    await this.sub?.drain().catch(() => undefined);
  }

  private count(outcome: keyof CalloutCounts): void {
    this.counts[outcome]++;
    this.opts.onAnswer?.(outcome);
  }

  private async answer(msg: Msg): Promise<void> {
    let request: ClaimsData<AuthorizationRequest>;
    try {
      request = decode<AuthorizationRequest>(new TextDecoder().decode(msg.data));
    } catch (err) {
      this.count("failed");
      this.opts.logger.warn(`auth callout: unreadable request (${(err as Error).message})`);
      return; // no answer: the server refuses the client when its callout times out
    }
    const req = request.nats as AuthorizationRequest;
    const serverId = req.server_id?.id ?? "";
    const userNkey = req.user_nkey;
    try {
      const jwt = await this.decide(req);
      this.count(jwt ? "admitted" : "refused");
      msg.respond(
        await encodeAuthorizationResponse(
          userNkey,
          serverId,
          this.issuer,
          jwt ? { jwt } : { error: "authorization refused" },
          { aud: serverId },
        ),
      );
    } catch (err) {
      this.count("failed");
      this.opts.logger.warn(`auth callout: could not answer (${(err as Error).message})`);
      msg.respond(
        await encodeAuthorizationResponse(
          userNkey,
          serverId,
          this.issuer,
          { error: "authorization unavailable" },
          { aud: serverId },
        ).catch(() => new Uint8Array()),
      );
    }
  }

  /** The member's user JWT, or undefined to refuse. Never says why to the client. */
  private async decide(req: AuthorizationRequest): Promise<string | undefined> {
    const key = req.connect_opts?.auth_token ?? req.connect_opts?.pass;
    const host = req.client_info?.host ?? "";
    if (!key) return undefined;
    const verdict = await this.opts.verifier.verify(key, { host });
    if (!verdict.ok) return undefined;
    const p = groupMemberPermissions(this.opts.names, verdict.group);
    const ttlSec = Math.max(1, Math.round((this.opts.userTtlMs ?? 3_600_000) / 1000));
    return encodeUser(
      memberName(verdict.group, verdict.keyId),
      req.user_nkey,
      this.issuer,
      {
        pub: { allow: p.publish.allow, deny: p.publish.deny },
        sub: { allow: p.subscribe.allow, deny: p.subscribe.deny },
      },
      { aud: APP_ACCOUNT, exp: Math.floor(Date.now() / 1000) + ttlSec },
    );
  }
}
