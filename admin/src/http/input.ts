import {
  GROUP_NAME,
  MAX_NESTING,
  SCOPES,
  TOKEN_ID,
  nestsDeeperThan,
} from "@konorkestra/sdk/internal";
import { z } from "zod";
import { AdminError, AdminErrorCode } from "../domain/admin-error";

/**
 * Deepest nesting a request accepts: a config value's own limit (the config-file rules) plus the
 * few levels of the body around it (`[{"configs":{"<key>": value}}]`), so a value a little too
 * deep still gets the config rule's own refusal naming its key.
 */
export const MAX_BODY_NESTING = MAX_NESTING + 8;

/**
 * Validates request input; a failure is a 400 naming the field and what is wrong with it. The
 * nesting depth is checked first, without recursion: JSON.parse builds a value nested 100,000
 * deep, and anything recursive after it (schema, JSON.stringify) would overflow the stack.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: "body" | "query" | "path",
): z.output<S> {
  if (nestsDeeperThan(input, MAX_BODY_NESTING)) {
    const issue = `nested more than ${MAX_BODY_NESTING} levels deep`;
    throw new AdminError(AdminErrorCode.InvalidInput, `invalid ${where}: ${issue}`, {
      where,
      field: where,
      issue,
    });
  }
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
