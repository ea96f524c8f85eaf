import { z } from "zod";

import { CliError, ExitCode } from "../exit-codes";
import type { HttpClient } from "./http-client";

/** The admin's group record (GET /v1/groups). */
export const groupSchema = z.object({
  name: z.string(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
});
export type GroupInfo = z.infer<typeof groupSchema>;

export const joinKeyInfoSchema = z.object({
  keyId: z.string(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type JoinKeyInfo = z.infer<typeof joinKeyInfoSchema>;

export const groupDetailSchema = groupSchema.extend({ keys: z.array(joinKeyInfoSchema) });
export type GroupDetail = z.infer<typeof groupDetailSchema>;

export const createdGroupSchema = groupSchema.extend({ keyId: z.string(), joinKey: z.string() });
export type CreatedGroup = z.infer<typeof createdGroupSchema>;

export const rotatedKeySchema = z.object({
  keyId: z.string(),
  joinKey: z.string(),
  oldKeysValidUntil: z.string(),
});
export type RotatedKey = z.infer<typeof rotatedKeySchema>;

/** Reads an answer by its schema; a mismatch means client and server disagree on the API. */
export function parseAnswer<S extends z.ZodType>(
  schema: S,
  body: unknown,
  where: string,
): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(
      ExitCode.Failed,
      `unexpected answer: ${issue.path.map(String).join(".") || "body"}: ${issue.message}`,
      { where, hint: "kon and the server may be of different versions" },
    );
  }
  return parsed.data;
}

/** The admin's group and join-key routes. */
export class AdminGroups {
  constructor(private readonly http: HttpClient) {}

  async list(): Promise<GroupInfo[]> {
    const b = await this.http.get("/v1/groups");
    return parseAnswer(z.object({ groups: z.array(groupSchema) }), b, "GET /v1/groups").groups;
  }

  async create(name: string): Promise<CreatedGroup> {
    return parseAnswer(
      createdGroupSchema,
      await this.http.post("/v1/groups", { name }),
      "POST /v1/groups",
    );
  }

  async show(name: string): Promise<GroupDetail> {
    const path = `/v1/groups/${encodeURIComponent(name)}`;
    return parseAnswer(groupDetailSchema, await this.http.get(path), `GET ${path}`);
  }

  async delete(name: string): Promise<void> {
    await this.http.delete(`/v1/groups/${encodeURIComponent(name)}`);
  }

  async rotateKey(name: string, graceMs: number | undefined): Promise<RotatedKey> {
    const path = `/v1/groups/${encodeURIComponent(name)}/join-keys`;
    const body = graceMs === undefined ? {} : { graceMs };
    return parseAnswer(rotatedKeySchema, await this.http.post(path, body), `POST ${path}`);
  }

  async revokeKey(name: string, keyId: string): Promise<void> {
    await this.http.delete(
      `/v1/groups/${encodeURIComponent(name)}/join-keys/${encodeURIComponent(keyId)}`,
    );
  }
}
