import { z } from "zod";

import { CliError, ExitCode } from "../exit-codes";
import type { ConfigStore, Credential } from "./config-store";
import type { HttpClient, TokenSource } from "./http-client";

/** The admin's answer to sign-in and refresh. */
export const sessionPairSchema = z.object({
  adminId: z.string(),
  accessToken: z.string(),
  accessExpiresAt: z.string(),
  refreshToken: z.string(),
  refreshExpiresAt: z.string(),
});
export type SessionPair = z.infer<typeof sessionPairSchema>;

/** Refresh a little before the access token expires, so a request never races its expiry. */
const EARLY_REFRESH_MS = 30_000;

/** Where an invocation's token comes from (`kon context show` says which). */
export type TokenOrigin = "flag" | "env" | "session" | "api-token" | "none";

/**
 * The token of one invocation: `--token`, else `KON_API_TOKEN`, else what `kon login` stored for
 * the context. A stored session is refreshed through `/v1/auth/refresh` when it is about to
 * expire or a server answered 401, and the new pair is written back (0600), under the
 * credentials lock so that concurrent `kon` processes refresh it once.
 */
export class SessionTokens implements TokenSource {
  private cred: Credential | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly context: string,
    /** The admin API without a token source (refresh is an open route). */
    private readonly admin: HttpClient,
    private readonly explicit: { token: string; origin: "flag" | "env" } | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.cred = explicit ? undefined : store.credential(context);
  }

  get origin(): TokenOrigin {
    if (this.explicit) return this.explicit.origin;
    return this.cred?.kind ?? "none";
  }

  /** The signed-in admin's e-mail, when the context holds a session. */
  get email(): string | undefined {
    return this.cred?.kind === "session" ? this.cred.email : undefined;
  }

  async token(): Promise<string | undefined> {
    if (this.explicit) return this.explicit.token;
    const c = this.cred;
    if (c?.kind === "session" && Date.parse(c.accessExpiresAt) - EARLY_REFRESH_MS <= this.now()) {
      await this.refresh();
    }
    // Read again: a refresh may have found another process's credential stored (or none).
    const held = this.cred;
    if (!held) return undefined;
    return held.kind === "api-token" ? held.token : held.accessToken;
  }

  /**
   * Refreshes the stored session, holding the credentials lock: several `kon` commands at once
   * near the session's expiry refresh it once. Once the lock is held the stored credential is
   * read again: when another process refreshed meanwhile (or signed in again), its tokens are
   * used instead of presenting the refresh token a second time; when it signed out, there is no
   * token any more (false).
   */
  async refresh(): Promise<boolean> {
    const c = this.cred;
    if (this.explicit || c?.kind !== "session") return false;
    return this.store.withCredentialsLock(async () => {
      const stored = this.store.credential(this.context);
      if (stored?.kind !== "session" || stored.refreshToken !== c.refreshToken) {
        this.cred = stored;
        return stored !== undefined;
      }
      if (Date.parse(c.refreshExpiresAt) <= this.now()) throw this.expired();
      let pair: SessionPair;
      try {
        pair = sessionPairSchema.parse(
          await this.admin.post("/v1/auth/refresh", { refreshToken: c.refreshToken }),
        );
      } catch (err) {
        if (err instanceof CliError && err.exitCode === ExitCode.Refused) throw this.expired();
        throw err;
      }
      this.cred = { kind: "session", email: c.email, ...omitAdminId(pair) };
      this.store.setCredential(this.context, this.cred);
      return true;
    });
  }

  private expired(): CliError {
    // The stored session is of no more use: drop it so the next command says "not signed in".
    this.store.setCredential(this.context, undefined);
    this.cred = undefined;
    return new CliError(ExitCode.Refused, `the session of context '${this.context}' has expired`, {
      hint: "sign in again with 'kon login'",
    });
  }
}

/** The stored form of a session pair (the admin id is not needed to use it). */
export function omitAdminId(p: SessionPair): Omit<SessionPair, "adminId"> {
  return {
    accessToken: p.accessToken,
    accessExpiresAt: p.accessExpiresAt,
    refreshToken: p.refreshToken,
    refreshExpiresAt: p.refreshExpiresAt,
  };
}
