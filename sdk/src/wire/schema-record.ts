import { assertConfigKey, assertGroupName } from "./names";

/**
 * What a service stores in `kon_schemas` under {@link schemaRecordKey}: the JSON Schema
 * (draft 2020-12) of one config key, so the loader can refuse an invalid file before any node
 * sees it. JSON, UTF-8.
 */
export interface SchemaRecord {
  /** The JSON Schema (an object). */
  schema: Record<string, unknown>;
  /** Service that registered it. */
  service: string;
  /** Node that registered it. */
  nodeId: string;
  /** When, epoch ms. */
  registeredAtMs: number;
}

/** Key of a config key's schema in `kon_schemas`: `<group>.<config key>`. */
export function schemaRecordKey(group: string, key: string): string {
  return `${assertGroupName(group)}.${assertConfigKey(key)}`;
}

/**
 * Reads a stored record. Throws an Error saying what is wrong when it is not JSON or has no
 * `schema` object; the other fields default to empty, as older writers may leave them out.
 */
export function parseSchemaRecord(raw: string): SchemaRecord {
  const rec = JSON.parse(raw) as Partial<SchemaRecord> | null;
  if (typeof rec?.schema !== "object" || rec.schema === null || Array.isArray(rec.schema)) {
    throw new Error('no "schema" object in the registration');
  }
  return {
    schema: rec.schema,
    service: String(rec.service ?? ""),
    nodeId: String(rec.nodeId ?? ""),
    registeredAtMs: Number(rec.registeredAtMs ?? 0),
  };
}
