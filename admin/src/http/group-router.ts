import { Router } from "express";
import type { Logger } from "@konorkestra/sdk";
import { groupAllowed } from "@konorkestra/sdk/internal";
import { z } from "zod";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import type { Groups } from "../domain/groups";
import type { AuditStore } from "../store/audit-store";
import type { GroupInfo, JoinKeyInfo } from "../store/group-store";
import { audited } from "./audit-trail";
import { groupName, keyId, parseInput } from "./input";
import { authOf, requireScope } from "./request-auth";
import type { RequestAuthDeps } from "./request-auth";

const createBody = z.strictObject({ name: groupName });
const groupParams = z.strictObject({ group: groupName });
const keyParams = z.strictObject({ group: groupName, keyId });
const rotateBody = z.strictObject({
  graceMs: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400_000)
    .optional(),
});

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
const groupJson = (g: GroupInfo) => ({
  name: g.name,
  createdAt: g.createdAt.toISOString(),
  createdBy: g.createdBy,
});
const keyJson = (k: JoinKeyInfo) => ({
  keyId: k.keyId,
  createdAt: k.createdAt.toISOString(),
  createdBy: k.createdBy,
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
});

/** Groups and join keys: read scope to look, write scope to change. */
export function groupRouter(
  groups: Groups,
  auth: RequestAuthDeps,
  audit: AuditStore,
  logger: Logger,
): Router {
  const r = Router();
  const read = requireScope(auth, "read");
  const write = requireScope(auth, "write");
  const trail = (action: string) =>
    audited(audit, logger, action, (req) => {
      const p = req.params as { group?: string; keyId?: string };
      const name = p.group ?? (req.body as { name?: unknown } | undefined)?.name;
      return [name, p.keyId].filter((x) => typeof x === "string").join("/");
    });

  r.get("/v1/groups", read, async (_req, res) => {
    const claims = authOf(res)!;
    const visible = (await groups.list()).filter((g) => groupAllowed(claims, g.name));
    res.json({ groups: visible.map(groupJson) });
  });

  r.post("/v1/groups", trail("group.create"), write, async (req, res) => {
    const { name } = parseInput(createBody, req.body, "body");
    if (authOf(res)!.groups !== undefined) {
      throw new AdminError(AdminErrorCode.Forbidden, "a token limited to groups cannot create one");
    }
    const made = await groups.create(name, authOf(res)!.sub);
    res.status(201).json({ ...groupJson(made.group), keyId: made.keyId, joinKey: made.joinKey });
  });

  r.get("/v1/groups/:group", read, async (req, res) => {
    const { group } = parseInput(groupParams, req.params, "path");
    const g = await groups.show(group);
    res.json({ ...groupJson(g), keys: g.keys.map(keyJson) });
  });

  r.delete("/v1/groups/:group", trail("group.delete"), write, async (req, res) => {
    const { group } = parseInput(groupParams, req.params, "path");
    await groups.delete(group);
    res.status(204).end();
  });

  r.post("/v1/groups/:group/join-keys", trail("joinkey.rotate"), write, async (req, res) => {
    const { group } = parseInput(groupParams, req.params, "path");
    const { graceMs } = parseInput(rotateBody, req.body, "body");
    const k = await groups.rotateKey(group, authOf(res)!.sub, graceMs);
    res.status(201).json({
      keyId: k.keyId,
      joinKey: k.joinKey,
      oldKeysValidUntil: k.oldKeysValidUntil.toISOString(),
    });
  });

  r.delete(
    "/v1/groups/:group/join-keys/:keyId",
    trail("joinkey.revoke"),
    write,
    async (req, res) => {
      const { group, keyId: id } = parseInput(keyParams, req.params, "path");
      await groups.revokeKey(group, id);
      res.status(204).end();
    },
  );
  return r;
}
