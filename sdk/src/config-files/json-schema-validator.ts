import Ajv2020 from "ajv/dist/2020";
import type { ErrorObject } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { sha256Hex } from "../config/stable-hash";
import type { SchemaRecord } from "../wire/schema-record";

/** One way a value breaks a JSON Schema. */
export interface JsonSchemaViolation {
  /** JSON Pointer of the offending value ("" for the value itself). */
  path: string;
  /** Why, in ajv's words (`must be <= 65535`, `must match format "email"`). */
  message: string;
}

/** A JSON Schema compiled once, identified by its content. */
export interface CompiledJsonSchema {
  /** Lowercase hex sha256 of `JSON.stringify(schema)` (the loader's `ConfigEntry.schema_id`). */
  id: string;
  /** The violations of `value`; empty when it conforms. */
  validate(value: unknown): JsonSchemaViolation[];
}

/**
 * The one rule for "does this value meet the schema a service registered": JSON Schema draft
 * 2020-12 (what zod 4's `z.toJSONSchema` emits) read by ajv with the standard formats. The
 * config-loader checks every file with it before publishing, and the admin's config API checks
 * every write with it before committing, so the two can never disagree. Throws an Error saying
 * why when the schema itself does not compile.
 *
 * Each schema gets its own ajv instance: schemas from different services may share an `$id`,
 * which one instance would refuse. `strict: false` because zod emits formats ajv-formats lacks
 * (cuid, nanoid) next to a `pattern` that checks them anyway.
 */
export function compileJsonSchema(schema: Record<string, unknown>): CompiledJsonSchema {
  const { $schema: _ignored, ...body } = schema;
  const ajv = new Ajv2020({ allErrors: true, strict: false, logger: false });
  addFormats(ajv);
  const fn = ajv.compile(body);
  return {
    id: sha256Hex(JSON.stringify(schema)),
    validate(value: unknown): JsonSchemaViolation[] {
      if (fn(value)) return [];
      return (fn.errors ?? []).map(violationOf);
    },
  };
}

/** A missing property is reported at its own pointer, not at the object that lacks it. */
function violationOf(e: ErrorObject): JsonSchemaViolation {
  const missing = (e.params as { missingProperty?: unknown }).missingProperty;
  const path =
    typeof missing === "string" ? `${e.instancePath}/${escapePointer(missing)}` : e.instancePath;
  return { path, message: e.message ?? e.keyword };
}

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/**
 * Compiled schemas by content, so that a schema is compiled once however many keys and values
 * use it. A schema that does not compile is remembered as its Error (callers skip it: a broken
 * registration must not block every config write). Cleared when it grows past `maxEntries`.
 */
export class JsonSchemaCache {
  private readonly compiled = new Map<string, CompiledJsonSchema | Error>();

  constructor(private readonly maxEntries = 1000) {}

  get(schema: Record<string, unknown>): CompiledJsonSchema | Error {
    const id = sha256Hex(JSON.stringify(schema));
    let c = this.compiled.get(id);
    if (c === undefined) {
      if (this.compiled.size >= this.maxEntries) this.compiled.clear();
      try {
        c = compileJsonSchema(schema);
      } catch (err) {
        c = err instanceof Error ? err : new Error(String(err));
      }
      this.compiled.set(id, c);
    }
    return c;
  }
}

/** One way a value breaks one service's registration. */
export interface SchemaViolationOf extends JsonSchemaViolation {
  /** Service whose registration refused the value. */
  service: string;
}

const shared = new JsonSchemaCache();

/**
 * Checks a value against the registrations it must meet (pass {@link liveSchemaRecords}' answer)
 * with {@link compileJsonSchema}, the loader's own rule: the admin's config API refuses a value
 * here rather than commit a file the loader would reject. A registration that does not compile is
 * skipped and named in `unreadable`, as the loader skips it.
 */
export function schemaViolations(
  records: readonly SchemaRecord[],
  value: unknown,
): { violations: SchemaViolationOf[]; unreadable: string[] } {
  const violations: SchemaViolationOf[] = [];
  const unreadable: string[] = [];
  for (const r of records) {
    const c = shared.get(r.schema);
    if (c instanceof Error) {
      unreadable.push(`${r.service || "?"}: ${c.message}`);
      continue;
    }
    for (const v of c.validate(value)) violations.push({ service: r.service, ...v });
  }
  return { violations, unreadable };
}
