import { z } from "zod";

import { parseAnswer } from "./admin-groups";
import type { HttpClient } from "./http-client";

/** A key's current value (GET /v1/groups/:g/configs/:key). */
export const configViewSchema = z.looseObject({
  module: z.string(),
  configs: z.unknown(),
  revision: z.number(),
  sha256: z.string(),
  commit: z.string(),
  author: z.string(),
  published_by: z.string(),
  updated_at: z.string().nullable(),
  consistency: z.enum(["eventual", "strong"]),
  activate_at: z.string().nullable(),
  source_path: z.string(),
});
export type ConfigView = z.infer<typeof configViewSchema>;

/** What became of one key of a write. */
export const itemResultSchema = z.looseObject({
  module: z.string(),
  status: z.enum(["created", "updated", "skipped", "unchanged", "pending", "rejected", "aborted"]),
  sha256: z.string(),
  revision: z.number().optional(),
  commit: z.string().optional(),
  reason: z.string().optional(),
});
export const writeResultSchema = z.looseObject({
  commit: z.string().nullable(),
  change_id: z.string(),
  results: z.array(itemResultSchema),
});
export type WriteResult = z.infer<typeof writeResultSchema>;

export const historyItemSchema = z.looseObject({
  revision: z.number().nullable(),
  operation: z.enum(["put", "delete"]),
  sha256: z.string(),
  commit: z.string(),
  who: z.string(),
  at: z.string().nullable(),
  source: z.enum(["kv", "git"]),
});
export type HistoryItem = z.infer<typeof historyItemSchema>;
const historyPageSchema = z.looseObject({
  items: z.array(historyItemSchema),
  next: z.string().nullable(),
});

export const jsonChangeSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("added"), path: z.string(), value: z.unknown() }),
  z.object({ op: z.literal("removed"), path: z.string(), old: z.unknown() }),
  z.object({ op: z.literal("changed"), path: z.string(), old: z.unknown(), value: z.unknown() }),
]);
export type JsonChange = z.infer<typeof jsonChangeSchema>;
const diffSchema = z.looseObject({
  module: z.string(),
  from: z.string(),
  to: z.string(),
  changes: z.array(jsonChangeSchema),
});
export type ConfigDiff = z.infer<typeof diffSchema>;

/** Options of a write, as the API names them. */
export interface WriteOptions {
  expected_revision?: number;
  consistency?: "eventual" | "strong";
  /** RFC 3339. */
  activate_at?: string;
}

/**
 * The admin's config API (`/v1/groups/:g/configs/…`): writes go into the group's folder and are
 * published by the loader, so they get its validation, events and provenance.
 */
export class AdminConfigs {
  constructor(
    private readonly http: HttpClient,
    private readonly group: string,
  ) {}

  private path(rest: string): string {
    return `/v1/groups/${encodeURIComponent(this.group)}/configs${rest}`;
  }

  async get(key: string): Promise<ConfigView> {
    const p = this.path(`/${encodeURIComponent(key)}`);
    return parseAnswer(configViewSchema, await this.http.get(p), `GET ${p}`);
  }

  /** `_update` (or `_create`: keys that exist are skipped). 202 answers carry `pending` items. */
  async write(
    mode: "create" | "update",
    key: string,
    configs: unknown,
    o: WriteOptions,
  ): Promise<WriteResult> {
    const p = this.path(`/_${mode}`);
    const body = [{ module: key, configs, ...o }];
    return parseAnswer(writeResultSchema, await this.http.post(p, body), `POST ${p}`);
  }

  async history(key: string, limit: number, cursor?: string) {
    const p = this.path(`/${encodeURIComponent(key)}/history`);
    const b = await this.http.get(p, { query: { limit, cursor } });
    return parseAnswer(historyPageSchema, b, `GET ${p}`);
  }

  async diff(key: string, from: string, to: string): Promise<ConfigDiff> {
    const p = this.path(`/${encodeURIComponent(key)}/diff`);
    return parseAnswer(diffSchema, await this.http.get(p, { query: { from, to } }), `GET ${p}`);
  }

  /** Writes the value of `ref` (a revision or a 40-hex commit) as a new revision. */
  async rollback(key: string, ref: string, o: WriteOptions): Promise<WriteResult> {
    const p = this.path(`/${encodeURIComponent(key)}/rollback`);
    const target = /^\d+$/.test(ref) ? { revision: Number(ref) } : { commit: ref };
    return parseAnswer(
      writeResultSchema,
      await this.http.post(p, { ...target, ...o }),
      `POST ${p}`,
    );
  }
}
