import { createHash } from "node:crypto";

/** JSON with object keys sorted, so equal values give equal strings whatever their key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(normalize(value)) ?? "undefined";
}

function normalize(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Map)
    return [...value.entries()].map(([k, v]) => [normalize(k), normalize(v)]);
  if (value instanceof Set) return [...value].map(normalize);
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === "function") return normalize(withJson.toJSON());
  if (Array.isArray(value)) return value.map(normalize);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    out[key] = normalize((value as Record<string, unknown>)[key]);
  }
  return out;
}

/** Lowercase hex SHA-256 of the stable JSON of a value (how `select` decides a slice changed). */
export function stableHash(value: unknown): string {
  return sha256Hex(stableStringify(value));
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
