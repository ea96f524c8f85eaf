import type { KV } from "@nats-io/kv";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import type { Logger } from "@konorkestra/sdk";
import { parseSchemaRecord, schemaRecordKey, sha256Hex } from "@konorkestra/sdk/internal";
import type { RegisteredSchema, SchemaSource, SchemaViolation } from "./config-store";

type Compiled = Omit<RegisteredSchema, "revision" | "service">;

/**
 * Compiles a JSON Schema (draft 2020-12, what zod 4's `z.toJSONSchema` emits) with ajv and the
 * standard formats. Each schema gets its own ajv instance: schemas from different services may
 * share an `$id`, which one instance would refuse.
 */
export function compileSchema(schema: Record<string, unknown>): Compiled {
  const { $schema: _ignored, ...body } = schema;
  // zod emits formats ajv-formats lacks (cuid, nanoid) next to a pattern that checks them anyway.
  const ajv = new Ajv2020({ allErrors: true, strict: false, logger: false });
  addFormats(ajv);
  const fn = ajv.compile(body);
  return {
    id: sha256Hex(JSON.stringify(schema)),
    validate(value: unknown): SchemaViolation[] {
      if (fn(value)) return [];
      return (fn.errors ?? []).map((e) => {
        const missing = (e.params as { missingProperty?: unknown }).missingProperty;
        const path = typeof missing === "string" ? `${e.instancePath}/${missing}` : e.instancePath;
        return { path, message: e.message ?? e.keyword };
      });
    },
  };
}

/**
 * {@link SchemaSource} reading `kon_schemas` with a direct get per lookup (always current, ~30 µs),
 * compiled schemas cached by content. A registration that is not valid JSON or not a compilable
 * schema is logged once and ignored: a broken registration must not block every config publish.
 */
export class KvSchemaRegistry implements SchemaSource {
  /** By sha256 of the registration; a few per key at most, cleared if it ever grows large. */
  private readonly cache = new Map<string, { compiled: Compiled; service: string } | Error>();

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  async get(group: string, key: string): Promise<RegisteredSchema | undefined> {
    const name = schemaRecordKey(group, key);
    const e = await this.kv.get(name);
    if (!e || e.operation !== "PUT" || e.value.length === 0) return undefined;
    const raw = e.string();
    const sha = sha256Hex(raw);
    let hit = this.cache.get(sha);
    if (hit === undefined) {
      if (this.cache.size > 1000) this.cache.clear();
      hit = this.load(name, raw);
      this.cache.set(sha, hit);
    }
    if (hit instanceof Error) return undefined;
    return { ...hit.compiled, service: hit.service, revision: e.revision };
  }

  private load(name: string, raw: string): { compiled: Compiled; service: string } | Error {
    try {
      const reg = parseSchemaRecord(raw);
      return { compiled: compileSchema(reg.schema), service: reg.service };
    } catch (err) {
      this.logger.warn(`ignoring registered schema ${name}: ${(err as Error).message}`);
      return err as Error;
    }
  }
}
