import { z } from "zod";
import { schemaVersion } from "./schema-record";
import type { SchemaRecord } from "./schema-record";

/** One way a value breaks a registered schema. */
export interface SchemaViolationOf {
  /** Service whose registration refused the value. */
  service: string;
  /** JSON Pointer into the value ("" for the value itself). */
  path: string;
  message: string;
}

type Checker = ((value: unknown) => { path: string; message: string }[]) | Error;

const compiled = new Map<string, Checker>();

/**
 * Checks a value against the registrations it must meet (pass {@link liveSchemaRecords}' answer),
 * before it is written anywhere: the admin's config API refuses a value here rather than leave a
 * file the loader would reject. The JSON Schemas are read with zod's `z.fromJSONSchema` (they
 * are what `z.toJSONSchema` emitted in the registering service); the config-loader's ajv check
 * stays the authority at publish time. A registration zod cannot read is skipped (reported in
 * `unreadable`), as the loader skips one that does not compile.
 */
export function schemaViolations(
  records: readonly SchemaRecord[],
  value: unknown,
): { violations: SchemaViolationOf[]; unreadable: string[] } {
  const violations: SchemaViolationOf[] = [];
  const unreadable: string[] = [];
  for (const r of records) {
    const check = checkerFor(r.schema);
    if (check instanceof Error) {
      unreadable.push(`${r.service || "?"}: ${check.message}`);
      continue;
    }
    for (const v of check(value)) violations.push({ service: r.service, ...v });
  }
  return { violations, unreadable };
}

function checkerFor(schema: Record<string, unknown>): Checker {
  const id = schemaVersion(schema);
  let c = compiled.get(id);
  if (c === undefined) {
    if (compiled.size > 1000) compiled.clear();
    try {
      const zs = z.fromJSONSchema(schema);
      c = (value) => {
        const r = zs.safeParse(value);
        if (r.success) return [];
        return r.error.issues.map((i) => ({ path: pointer(i.path), message: i.message }));
      };
    } catch (err) {
      c = err instanceof Error ? err : new Error(String(err));
    }
    compiled.set(id, c);
  }
  return c;
}

function pointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}
