import type { ConfigSchema } from "./config-types";
import { deepFreeze } from "./deep-freeze";

/** A value checked against one zod schema: the parsed, deep-frozen value, or why not. */
export type Verdict =
  { ok: true; value: unknown } | { ok: false; reason: string; valuePath: string };

export function validate(schema: ConfigSchema, json: unknown): Verdict {
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, value: deepFreeze(r.data) };
  const issues = r.error.issues;
  const reason = issues
    .slice(0, 5)
    .map((i) => `${pointer(i.path) || "/"}: ${i.message}`)
    .join("; ");
  return { ok: false, reason: `schema: ${reason}`, valuePath: pointer(issues[0]?.path ?? []) };
}

/** JSON Pointer (RFC 6901) of a zod issue path. */
function pointer(path: readonly PropertyKey[]): string {
  return path.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}
