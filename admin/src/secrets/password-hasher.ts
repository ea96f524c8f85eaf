import { argon2id, hash as argon2Hash, verify as argon2Verify } from "argon2";

/** argon2id cost; the defaults are OWASP's (19 MiB, 2 passes, 1 lane). */
export interface Argon2Cost {
  memoryKib: number;
  timeCost: number;
}

/**
 * argon2id hashing of passwords and join-key secrets. Verification against an unknown account
 * runs against a fixed hash of the same cost, so a missing account costs the same time as a wrong
 * password and timing does not tell them apart.
 */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(private readonly cost: Argon2Cost) {}

  hash(secret: string): Promise<string> {
    return argon2Hash(secret, {
      type: argon2id,
      memoryCost: this.cost.memoryKib,
      timeCost: this.cost.timeCost,
      parallelism: 1,
    });
  }

  /** True when `secret` matches `stored`; false (never a throw) for a malformed hash. */
  async verify(stored: string, secret: string): Promise<boolean> {
    try {
      return await argon2Verify(stored, secret);
    } catch {
      return false;
    }
  }

  /** Spends one verification's time and answers false: for an account or key that does not exist. */
  async verifyNothing(secret: string): Promise<false> {
    this.dummy ??= this.hash("konorkestra: no such account");
    await this.verify(await this.dummy, secret);
    return false;
  }
}
