import { GROUP_NAME, SCOPES, TOKEN_ID } from "@konorkestra/sdk/internal";
import { z } from "zod";
import { AdminError, AdminErrorCode } from "../domain/admin-error";

/** Validates request input; a failure is a 400 naming the field and what is wrong with it. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: "body" | "query" | "path",
): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join(".") || where;
  throw new AdminError(
    AdminErrorCode.InvalidInput,
    `invalid ${where} field ${field}: ${issue.message}`,
    {
      where,
      field,
      issue: issue.message,
    },
  );
}

export const email = z.email().max(254);
/** 12-256 characters: long enough to resist guessing, short enough to bound argon2's input. */
export const password = z.string().min(12, "at least 12 characters").max(256);
export const groupName = z
  .string()
  .regex(GROUP_NAME, "use 1-63 of [a-z0-9-], starting with a letter or digit");
export const keyId = z
  .string()
  .regex(/^[0-9A-HJKMNP-TV-Z]{8}$/, "a key id is 8 Crockford base32 characters");
export const tokenId = z.string().regex(TOKEN_ID, "not a token id");
export const scope = z.enum(SCOPES);
/** A duration in ms, 1 s to 10 years. */
export const ttlMs = z
  .number()
  .int()
  .min(1000)
  .max(10 * 365 * 86_400_000);
