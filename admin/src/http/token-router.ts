import { Router } from "express";
import type { Logger } from "@konorkestra/sdk";
import { MAX_TOKEN_GROUPS } from "@konorkestra/sdk/internal";
import { z } from "zod";
import type { ApiTokens } from "../domain/api-tokens";
import type { ApiTokenInfo } from "../store/api-token-store";
import type { AuditStore } from "../store/audit-store";
import { audited } from "./audit-trail";
import { groupName, parseInput, scope, tokenId, ttlMs } from "./input";
import { authOf, requireScope } from "./request-auth";
import type { RequestAuthDeps } from "./request-auth";

const createBody = z.strictObject({
  name: z.string().min(1).max(100),
  scopes: z.array(scope).min(1).max(3),
  ttlMs: ttlMs.optional(),
  /** Limits the token to these groups (read and write scopes only). */
  groups: z.array(groupName).min(1).max(MAX_TOKEN_GROUPS).optional(),
});
const idParams = z.strictObject({ id: tokenId });

function tokenJson(t: ApiTokenInfo): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    adminId: t.adminId,
    scopes: t.scopes,
    groups: t.groups,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

/** API tokens: create (shown once), list (never the secret), revoke. Admin scope. */
export function tokenRouter(
  tokens: ApiTokens,
  auth: RequestAuthDeps,
  audit: AuditStore,
  logger: Logger,
): Router {
  const r = Router();
  const admin = requireScope(auth, "admin");

  r.get("/v1/tokens", admin, async (_req, res) => {
    res.json({ tokens: (await tokens.list()).map(tokenJson) });
  });

  r.post("/v1/tokens", audited(audit, logger, "token.create"), admin, async (req, res) => {
    const body = parseInput(createBody, req.body, "body");
    const { token, info } = await tokens.create(authOf(res)!.sub, body);
    res.locals.target = info.id;
    res.status(201).json({ token, ...tokenJson(info) });
  });

  r.delete(
    "/v1/tokens/:id",
    audited(audit, logger, "token.revoke", (req) => String(req.params.id ?? "")),
    admin,
    async (req, res) => {
      const { id } = parseInput(idParams, req.params, "path");
      res.json(tokenJson(await tokens.revoke(id)));
    },
  );
  return r;
}
