import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { ensureSchemasBucket } from "../wire/buckets";
import type { WireNames } from "../wire/names";
import { parseSchemaRecord, schemaRecordKey } from "../wire/schema-record";
import type { SchemaRecord } from "../wire/schema-record";

/** zod's JSON Schema export of a config schema (draft 2020-12, input side). */
export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
}

/**
 * Publishes the JSON Schema of a config key to `kon_schemas`, so the loader can refuse an invalid
 * file before it reaches any node. Skips the write when the stored schema is already identical
 * (every instance of a service registers on start).
 * @returns whether it wrote.
 */
export async function registerConfigSchema(
  nc: NatsConnection,
  names: WireNames,
  reg: { group: string; key: string; schema: z.ZodType; service: string; nodeId: string },
  replicas = 1,
): Promise<boolean> {
  const json = configJsonSchema(reg.schema);
  const kv = await ensureSchemasBucket(nc, names, replicas);
  const kvKey = schemaRecordKey(reg.group, reg.key);
  const current = await kv.get(kvKey);
  if (current && current.operation === "PUT" && current.length > 0) {
    try {
      const stored = parseSchemaRecord(current.string());
      if (JSON.stringify(stored.schema) === JSON.stringify(json)) return false;
    } catch {
      // Unreadable: overwrite it.
    }
  }
  const value: SchemaRecord = {
    schema: json,
    service: reg.service,
    nodeId: reg.nodeId,
    registeredAtMs: Date.now(),
  };
  await kv.put(kvKey, JSON.stringify(value));
  return true;
}
