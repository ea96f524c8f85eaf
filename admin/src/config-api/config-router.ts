import express, { Router } from "express";
import type { Response } from "express";
import type { Logger } from "@konorkestra/sdk";
import { assertConfigKey, valueShapeProblem } from "@konorkestra/sdk/internal";
import { z } from "zod";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import { audited } from "../http/audit-trail";
import { sendError } from "../http/http-error";
import { groupName, parseInput } from "../http/input";
import { authOf, requireScope } from "../http/request-auth";
import type { RequestAuthDeps } from "../http/request-auth";
import type { AdminMetrics } from "../metrics";
import type { AuditStore } from "../store/audit-store";
import type { ConfigCompaction } from "./config-compaction";
import type { ConfigReader } from "./config-reader";
import type { ConfigWriter, WriteItem, WriteMode, WriteResult } from "./config-writer";

/** Largest request body of a config write (a change set of up to 1,000 values). */
const CONFIG_BODY_LIMIT = 4 * 1024 * 1024;
/** Most items in one write: the loader's atomic batch limit. */
const MAX_ITEMS = 1000;

const configKey = z.string().refine(
  (k) => {
    try {
      assertConfigKey(k);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a config key: 1-255 characters, dot-separated tokens of [A-Za-z0-9_=-]" },
);
const activateAt = z.iso
  .datetime({ offset: true, message: "an RFC 3339 time with a zone, e.g. 2030-01-01T10:00:00Z" })
  .transform((s) => Date.parse(s));
const writeOptions = {
  expected_revision: z.number().int().min(0).optional(),
  consistency: z.enum(["eventual", "strong"]).optional(),
  activate_at: activateAt.optional(),
};
/**
 * A config value: any JSON value (an object, an array, a scalar or null), by the config-file rules
 * the loader publishes by (docs/wire-contract.md §3.1); only a missing one is refused here. Size,
 * depth and registered JSON Schemas are checked by the writer, as the loader checks a file.
 */
const configValue = z.unknown().superRefine((v, ctx) => {
  const problem = valueShapeProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const writeBody = z
  .array(
    z.strictObject({
      module: configKey,
      configs: configValue,
      ...writeOptions,
    }),
  )
  .min(1)
  .max(MAX_ITEMS)
  .refine((a) => new Set(a.map((x) => x.module)).size === a.length, {
    message: "a module appears twice",
  });
const searchBody = z.strictObject({
  module: configKey.optional(),
  prefix: z.string().max(255).optional(),
  revision: z.number().int().min(1).optional(),
  since_revision: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});
const rollbackBody = z
  .strictObject({
    revision: z.number().int().min(1).optional(),
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/, "a full git commit hash")
      .optional(),
    ...writeOptions,
  })
  .refine((b) => (b.revision === undefined) !== (b.commit === undefined), {
    message: "give either revision or commit",
  });
const groupParams = z.strictObject({ group: groupName });
const keyParams = z.strictObject({ group: groupName, key: configKey });
const historyQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(20),
  cursor: z.string().max(1000).optional(),
});
const ref = z
  .string()
  .regex(/^(\d+|[0-9a-f]{40}|current)$/, "a revision, a commit hash or current");
const diffQuery = z.strictObject({ from: ref, to: ref.default("current") });

export interface ConfigRouterDeps {
  writer: ConfigWriter | undefined;
  reader: ConfigReader;
  compaction: ConfigCompaction;
  auth: RequestAuthDeps;
  audit: AuditStore;
  metrics: AdminMetrics;
  logger: Logger;
}

/**
 * `/v1/groups/:group/configs/…`: reads need the `read` scope, writes `write`; a token limited to
 * other groups is refused (request-auth). Writes answer 200 when every key is published (or
 * skipped, unchanged), 202 when the loader has not published within the wait, 409 when a strong
 * write was abandoned, 422 when the loader refused a value.
 */
export function configRouter(d: ConfigRouterDeps): Router {
  const r = Router();
  const read = requireScope(d.auth, "read");
  const write = requireScope(d.auth, "write");
  const json = express.json({ limit: CONFIG_BODY_LIMIT, strict: true });
  const base = "/v1/groups/:group/configs";
  const trail = (action: string) =>
    audited(d.audit, d.logger, action, (req) => {
      const p = req.params as { group?: string; key?: string };
      return [p.group, p.key].filter((x) => typeof x === "string").join("/");
    });

  for (const mode of ["create", "update"] as const) {
    r.post(`${base}/_${mode}`, trail(`config.${mode}`), write, json, async (req, res) => {
      const { group } = parseInput(groupParams, req.params, "path");
      const items: WriteItem[] = parseInput(writeBody, req.body, "body").map(toItem);
      await answerWrite(d, res, mode, () => writer(d).write(group, mode, items, authOf(res)!.sub));
    });
  }

  r.post(`${base}/_search`, read, json, async (req, res) => {
    const { group } = parseInput(groupParams, req.params, "path");
    const q = parseInput(searchBody, req.body, "body");
    res.json({ configs: await d.reader.search(group, q) });
  });

  r.post(`${base}/_compact`, trail("config.compact"), write, async (req, res) => {
    const { group } = parseInput(groupParams, req.params, "path");
    res.json(await d.compaction.compactGroup(group));
  });

  r.get(`${base}/:key`, read, async (req, res) => {
    const { group, key } = parseInput(keyParams, req.params, "path");
    res.json(await d.reader.get(group, key));
  });

  r.get(`${base}/:key/history`, read, async (req, res) => {
    const { group, key } = parseInput(keyParams, req.params, "path");
    const q = parseInput(historyQuery, req.query, "query");
    res.json(await d.reader.history(group, key, q.limit, q.cursor));
  });

  r.get(`${base}/:key/diff`, read, async (req, res) => {
    const { group, key } = parseInput(keyParams, req.params, "path");
    const q = parseInput(diffQuery, req.query, "query");
    res.json({
      module: key,
      from: q.from,
      to: q.to,
      changes: await d.reader.diff(group, key, q.from, q.to),
    });
  });

  r.post(`${base}/:key/rollback`, trail("config.rollback"), write, json, async (req, res) => {
    const { group, key } = parseInput(keyParams, req.params, "path");
    const b = parseInput(rollbackBody, req.body, "body");
    const value = await d.reader.valueAt(
      group,
      key,
      b.revision !== undefined ? String(b.revision) : b.commit!,
    );
    const item = toItem({ module: key, configs: value, ...b });
    await answerWrite(d, res, "rollback", () =>
      writer(d).write(group, "rollback", [item], authOf(res)!.sub),
    );
  });
  return r;
}

function writer(d: ConfigRouterDeps): ConfigWriter {
  if (!d.writer) {
    throw new AdminError(
      AdminErrorCode.Unavailable,
      "the admin has no config folder; set KON_CONFIG_DIR (the loader's root) to write configs",
    );
  }
  return d.writer;
}

function toItem(x: {
  module: string;
  configs: unknown;
  expected_revision?: number;
  consistency?: "eventual" | "strong";
  activate_at?: number;
}): WriteItem {
  return {
    module: x.module,
    configs: x.configs,
    ...(x.expected_revision !== undefined ? { expected_revision: x.expected_revision } : {}),
    ...(x.consistency ? { consistency: x.consistency } : {}),
    ...(x.activate_at !== undefined ? { activate_at_ms: x.activate_at } : {}),
  };
}

/** The HTTP answer of a finished write (see {@link configRouter}). */
async function answerWrite(
  d: ConfigRouterDeps,
  res: Response,
  mode: WriteMode,
  run: () => Promise<WriteResult>,
): Promise<void> {
  res.on("finish", () =>
    d.metrics.configWrites.inc({ route: mode, status: String(res.statusCode) }),
  );
  const w = await run();
  {
    const aborted = w.results.filter((x) => x.status === "aborted");
    const rejected = w.results.filter((x) => x.status === "rejected");
    if (aborted.length > 0 || rejected.length > 0) {
      const bad = aborted[0] ?? rejected[0]!;
      const nodes = bad.nodes?.map((n) => n.node).join(", ");
      const message = aborted.length
        ? `${bad.module}: strong write abandoned${nodes ? ` (nodes ${nodes})` : ""}: ${bad.reason ?? ""}; the folder was put back`
        : `${bad.module}: refused by the loader: ${bad.reason ?? ""}; the folder was put back`;
      const code = aborted.length ? AdminErrorCode.Conflict : AdminErrorCode.Unprocessable;
      sendError(res, new AdminError(code, message, { ...w }));
    } else {
      res.status(w.results.some((x) => x.status === "pending") ? 202 : 200).json(w);
    }
  }
}
