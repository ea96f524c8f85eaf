import { Router } from "express";
import type { Logger } from "@konorkestra/sdk";
import { z } from "zod";
import type { Accounts, SessionPair } from "../domain/accounts";
import type { AuditStore } from "../store/audit-store";
import { audited, sourceOf } from "./audit-trail";
import { email, parseInput, password, ttlMs } from "./input";
import { authOf, requireScope } from "./request-auth";
import type { RequestAuthDeps } from "./request-auth";

const secretToken = z.string().min(1).max(512);
const signupBody = z.strictObject({
  email,
  password,
  bootstrapToken: secretToken.optional(),
  invitation: secretToken.optional(),
});
const loginBody = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });
const refreshBody = z.strictObject({ refreshToken: secretToken });
const logoutBody = z.strictObject({ refreshToken: secretToken.optional() });
const inviteBody = z.strictObject({ email: email.optional(), ttlMs: ttlMs.optional() });

function sessionJson(s: SessionPair): Record<string, unknown> {
  return {
    adminId: s.adminId,
    accessToken: s.accessToken,
    accessExpiresAt: s.accessExpiresAt.toISOString(),
    refreshToken: s.refreshToken,
    refreshExpiresAt: s.refreshExpiresAt.toISOString(),
  };
}

/** Sign-up, sign-in, refresh, sign-out (open: they are how one gets a token) and invitations. */
export function authRouter(
  accounts: Accounts,
  auth: RequestAuthDeps,
  audit: AuditStore,
  logger: Logger,
): Router {
  const r = Router();
  const trail = (action: string) => audited(audit, logger, action);

  r.post("/v1/auth/signup", trail("admin.signup"), async (req, res) => {
    const body = parseInput(signupBody, req.body, "body");
    res.locals.actor = body.email.toLowerCase();
    const { adminId } = await accounts.signup(body, sourceOf(req));
    res.status(201).json({ adminId, email: body.email.toLowerCase() });
  });

  r.post("/v1/auth/login", trail("auth.login"), async (req, res) => {
    const body = parseInput(loginBody, req.body, "body");
    res.locals.actor = body.email.toLowerCase();
    res.json(sessionJson(await accounts.login(body.email, body.password, sourceOf(req))));
  });

  r.post("/v1/auth/refresh", trail("auth.refresh"), async (req, res) => {
    const body = parseInput(refreshBody, req.body, "body");
    const pair = await accounts.refresh(body.refreshToken);
    res.locals.actor = pair.adminId;
    res.locals.target = pair.sessionId;
    // A client's parallel refreshes with one token: answered, and told apart from a rotation.
    if (pair.withinReuseGrace) res.locals.auditDetail = "within reuse grace";
    res.json(sessionJson(pair));
  });

  r.post("/v1/auth/logout", trail("auth.logout"), async (req, res) => {
    const body = parseInput(logoutBody, req.body, "body");
    // Ends the refresh token's session, and the session of the access token the request
    // carries if it is a valid one (either may be left out, not both): every access token of
    // it is refused from then on. The audit names the admin and the session ids, not a token.
    const out = await accounts.logout(body.refreshToken, req.headers.authorization);
    if (out.adminId !== undefined) res.locals.actor = out.adminId;
    res.locals.target = out.sessionIds.join(",");
    res.status(204).end();
  });

  r.post(
    "/v1/invitations",
    trail("admin.invite"),
    requireScope(auth, "admin"),
    async (req, res) => {
      const body = parseInput(inviteBody, req.body, "body");
      const inv = await accounts.invite(authOf(res)!.sub, body);
      res.status(201).json({
        id: inv.id,
        invitation: inv.invitation,
        expiresAt: inv.expiresAt.toISOString(),
      });
    },
  );
  return r;
}
