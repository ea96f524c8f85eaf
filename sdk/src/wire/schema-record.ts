import { createHash } from "node:crypto";
import { assertConfigKey, assertGroupName } from "./names";

/**
 * One registration in `kon_schemas` under {@link schemaRecordKey}: the JSON Schema (draft
 * 2020-12) one service uses for one config key, so the loader can refuse an invalid file before
 * any node sees it. The stored value holds every live registration of the key (see
 * {@link parseSchemaRecords}). JSON, UTF-8.
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

/**
 * How long an older schema version of a service stays live after the service registered a newer
 * one: a rolling deploy runs both, and a value must suit both until the old instances are gone.
 */
export const SCHEMA_GRACE_MS = 15 * 60_000;

/** Version of a registration: lowercase hex sha256 of `JSON.stringify(schema)`. */
export function schemaVersion(schema: Record<string, unknown>): string {
  return createHash("sha256").update(JSON.stringify(schema)).digest("hex");
}

/**
 * Reads a stored value: `{"registrations": [record, …]}`, one entry per service and schema
 * version, or (older writers) a single record. Throws an Error saying what is wrong. Entries
 * without a `schema` object are dropped, not fatal: one bad registration must not hide the rest.
 */
export function parseSchemaRecords(raw: string): SchemaRecord[] {
  const value = JSON.parse(raw) as { registrations?: unknown } | null;
  if (value && Array.isArray(value.registrations)) {
    const out: SchemaRecord[] = [];
    for (const r of value.registrations) {
      try {
        out.push(parseSchemaRecord(JSON.stringify(r)));
      } catch {
        // skipped, see above
      }
    }
    if (out.length === 0 && value.registrations.length > 0) {
      throw new Error('no registration has a "schema" object');
    }
    return out;
  }
  return [parseSchemaRecord(raw)];
}

/**
 * The registrations a value must satisfy now: for each service its newest registration, and its
 * older versions for `graceMs` after the newest was registered. Different services' schemas
 * all stay: a key read by two services must suit both.
 */
export function liveSchemaRecords(
  records: readonly SchemaRecord[],
  nowMs: number,
  graceMs = SCHEMA_GRACE_MS,
): SchemaRecord[] {
  const newest = new Map<string, number>();
  for (const r of records) {
    newest.set(r.service, Math.max(newest.get(r.service) ?? -Infinity, r.registeredAtMs));
  }
  return records.filter((r) => {
    const top = newest.get(r.service)!;
    return r.registeredAtMs === top || nowMs < top + graceMs;
  });
}

/**
 * The stored list after `rec` registers, or undefined when nothing needs writing (the same
 * service already has this schema as its newest). Registrations no longer live are dropped.
 */
export function withSchemaRecord(
  records: readonly SchemaRecord[],
  rec: SchemaRecord,
  graceMs = SCHEMA_GRACE_MS,
): SchemaRecord[] | undefined {
  const version = schemaVersion(rec.schema);
  const same = records.filter((r) => r.service === rec.service);
  const newest = same.reduce<SchemaRecord | undefined>(
    (a, r) => (a && a.registeredAtMs >= r.registeredAtMs ? a : r),
    undefined,
  );
  if (newest && schemaVersion(newest.schema) === version) return undefined;
  const others = records.filter(
    (r) => r.service !== rec.service || schemaVersion(r.schema) !== version,
  );
  return liveSchemaRecords([...others, rec], rec.registeredAtMs, graceMs);
}
