import { Router } from "express";
import { z } from "zod";
import type { AuditStore } from "../store/audit-store";
import { parseInput } from "./input";
import { requireScope } from "./request-auth";
import type { RequestAuthDeps } from "./request-auth";

const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z
    .string()
    .regex(/^[1-9]\d{0,17}$/, "an entry id")
    .transform(Number)
    .optional(),
});

/** `GET /v1/audit?limit=&before=`: newest first; `next` is the `before` of the next page. */
export function auditRouter(audit: AuditStore, auth: RequestAuthDeps): Router {
  const r = Router();
  r.get("/v1/audit", requireScope(auth, "admin"), async (req, res) => {
    const q = parseInput(query, req.query, "query");
    const items = await audit.page(q);
    const last = items[items.length - 1];
    res.json({
      items: items.map((e) => ({ ...e, at: e.at.toISOString() })),
      next: items.length === q.limit && last ? String(last.id) : null,
    });
  });
  return r;
}
