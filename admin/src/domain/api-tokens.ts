import type { Logger } from "@konorkestra/sdk";
import type { Scope } from "@konorkestra/sdk/internal";
import { tokenHash } from "../secrets/random-token";
import type { ApiTokenInfo, ApiTokenStore } from "../store/api-token-store";
import { AdminError, AdminErrorCode } from "./admin-error";
import type { TokenSigner } from "./token-signer";

/** Where revoked token ids go so that every verifier hears of them (NATS KV `<prefix>_revoked`). */
export interface RevocationPublisher {
  publish(tokenId: string, revokedAt: Date): Promise<void>;
}

/**
 * Long-lived API tokens with scopes, for CI and dashboards. The token is shown once; the store
 * keeps its id, scopes and SHA-256. Revocation is recorded in PostgreSQL (what this service
 * checks) and published for the other services' RevocationList.
 */
export class ApiTokens {
  constructor(
    private readonly store: ApiTokenStore,
    private readonly signer: TokenSigner,
    private readonly revocations: RevocationPublisher,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async create(
    adminId: string,
    input: { name: string; scopes: Scope[]; ttlMs?: number; groups?: string[] },
  ): Promise<{ token: string; info: ApiTokenInfo }> {
    const scopes = [...new Set(input.scopes)];
    const groups = input.groups ? [...new Set(input.groups)].sort() : undefined;
    // A group-limited token must not be able to mint unlimited ones or manage tokens and admins.
    if (groups && scopes.includes("admin")) {
      throw new AdminError(
        AdminErrorCode.InvalidInput,
        "a token limited to groups may hold the read and write scopes only",
        { field: "scopes" },
      );
    }
    const issued = this.signer.api(adminId, scopes, this.now(), input.ttlMs, groups);
    await this.store.insert({
      id: issued.id,
      name: input.name,
      adminId,
      scopes,
      groups: groups ?? null,
      tokenHash: tokenHash(issued.token),
      expiresAt: issued.expiresAt,
    });
    const info = await this.store.find(issued.id);
    return { token: issued.token, info: info! };
  }

  list(): Promise<ApiTokenInfo[]> {
    return this.store.list();
  }

  /**
   * Revokes a token (again, if it already was: that republishes it, so a failed publish can be
   * retried by calling this again).
   */
  async revoke(id: string): Promise<ApiTokenInfo> {
    const info = await this.store.revoke(id);
    if (!info) throw new AdminError(AdminErrorCode.NotFound, "no such API token");
    await this.revocations.publish(id, info.revokedAt!);
    return info;
  }

  /** True when this id is not a live API token (unknown, revoked) — checked on each request. */
  async isRevoked(id: string): Promise<boolean> {
    const info = await this.store.find(id);
    return !info || info.revokedAt !== null;
  }

  /** Publishes every revoked id again, so a publish lost to a NATS outage is made good at start. */
  async republishRevocations(): Promise<number> {
    const ids = await this.store.revokedIds();
    for (const id of ids) {
      const info = await this.store.find(id);
      if (info?.revokedAt) await this.revocations.publish(id, info.revokedAt);
    }
    if (ids.length > 0) this.logger.info(`revocation list: ${ids.length} token ids published`);
    return ids.length;
  }
}
