import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { ensureSchemasBucket } from "../wire/buckets";
import type { WireNames } from "../wire/names";
import { parseSchemaRecords, schemaRecordKey, withSchemaRecord } from "../wire/schema-record";
import type { SchemaRecord } from "../wire/schema-record";

/** zod's JSON Schema export of a config schema (draft 2020-12, input side). */
export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
}

/** Compare-and-set attempts before giving up on a key other writers keep changing. */
const ATTEMPTS = 8;

/**
 * Adds the JSON Schema of a config key to its `kon_schemas` record, next to those of other
 * services and other versions (never replacing them), so the loader can refuse a file that any
 * live reader of the key would refuse. Skips the write when this service's newest registration
 * is already this schema (every instance registers on start). Written with compare-and-set, so
 * two services registering at once both land.
 * @returns whether it wrote.
 */
export async function registerConfigSchema(
  nc: NatsConnection,
  names: WireNames,
  reg: { group: string; key: string; schema: z.ZodType; service: string; nodeId: string },
  replicas = 1,
): Promise<boolean> {
  const kv = await ensureSchemasBucket(nc, names, replicas);
  const kvKey = schemaRecordKey(reg.group, reg.key);
  const schema = configJsonSchema(reg.schema);
  for (let attempt = 1; ; attempt++) {
    const rec: SchemaRecord = {
      schema,
      service: reg.service,
      nodeId: reg.nodeId,
      registeredAtMs: Date.now(),
    };
    const { records, revision } = await stored(kv, kvKey);
    const next = withSchemaRecord(records, rec);
    if (!next) return false;
    const value = JSON.stringify({ registrations: next });
    try {
      if (revision === 0) await kv.create(kvKey, value);
      else await kv.update(kvKey, value, revision);
      return true;
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err;
    }
  }
}

/** The key's registrations and the revision to compare against (0: no live value). */
async function stored(
  kv: KV,
  kvKey: string,
): Promise<{ records: SchemaRecord[]; revision: number }> {
  const e = await kv.get(kvKey);
  if (!e || e.operation !== "PUT" || e.length === 0) {
    // kv.create() accepts a key whose last message is a delete.
    return { records: [], revision: 0 };
  }
  try {
    return { records: parseSchemaRecords(e.string()), revision: e.revision };
  } catch {
    return { records: [], revision: e.revision }; // unreadable: replaced
  }
}
