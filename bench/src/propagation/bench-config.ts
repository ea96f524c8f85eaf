import { createHash } from "node:crypto";
import { z } from "zod";
import { ConfigEntry, decodeMessage, encodeMessage } from "@konorkestra/proto";

/**
 * A fresh zod schema of the benchmark's config value, shaped like a real service config (nested
 * objects, a record, an array of objects, an enum, URL checks). Each call builds a new schema
 * object; see {@link SchemaPolicy} for who shares one.
 */
export function benchConfigSchema() {
  return z.object({
    version: z.number().int().nonnegative(),
    service: z.string().min(1),
    logLevel: z.enum(["debug", "info", "warn", "error"]),
    http: z.object({
      port: z.number().int().min(1).max(65535),
      timeoutMs: z.number().int().positive(),
      cors: z.array(z.url()),
    }),
    db: z.object({
      url: z.string().startsWith("postgres://"),
      poolMin: z.number().int().nonnegative(),
      poolMax: z.number().int().positive(),
      statementTimeoutMs: z.number().int().positive(),
    }),
    features: z.record(z.string(), z.boolean()),
    limits: z.array(
      z.object({ route: z.string(), rps: z.number().positive(), burst: z.number().int() }),
    ),
  });
}

/** The benchmark's zod schema type. */
export type BenchSchema = ReturnType<typeof benchConfigSchema>;

/** The parsed config value. */
export type BenchConfig = z.output<BenchSchema>;

/**
 * Who shares a schema object. `per-connection`: a service defines its schema once and all of its
 * watchers use that object (the SDK then parses a change once per connection and its handles
 * share the frozen value; a raw or etcd watcher still parses it itself). `per-handle`: every
 * watcher brings a schema object of its own, so the SDK too parses once per handle (its worst
 * case; zod 4 also compiles each schema object separately, which makes every parse dearer).
 */
export type SchemaPolicy = "per-connection" | "per-handle";

/** Returns, for one connection, the function that gives each of its watchers its schema. */
export function schemaSupplier(policy: SchemaPolicy): () => BenchSchema {
  if (policy === "per-handle") return benchConfigSchema;
  const shared = benchConfigSchema();
  return () => shared;
}

/**
 * The value of change `version`: 710 bytes of JSON, 860 as a ConfigEntry. Only `version` and the
 * feature flags differ from one change to the next.
 */
export function benchValue(version: number): BenchConfig {
  const features: Record<string, boolean> = {};
  for (let i = 0; i < 12; i++) features[`feature-${i}`] = (version + i) % 3 === 0;
  return {
    version,
    service: "checkout",
    logLevel: "info",
    http: {
      port: 8080,
      timeoutMs: 2500,
      cors: ["https://shop.example.com", "https://admin.example.com"],
    },
    db: {
      url: "postgres://checkout@db.internal:5432/checkout",
      poolMin: 2,
      poolMax: 20,
      statementTimeoutMs: 5000,
    },
    features,
    limits: ["/cart", "/checkout", "/pay", "/orders", "/refund"].map((route, i) => ({
      route,
      rps: 50 * (i + 1),
      burst: 100 * (i + 1),
    })),
  };
}

/** The value as the JSON payload the config-loader writes (keys as given, no white space). */
export function benchPayload(version: number): string {
  return JSON.stringify(benchValue(version));
}

/** The ConfigEntry bytes of change `version` of `key`, as the loader would write them. */
export function encodeBenchEntry(key: string, version: number): Uint8Array {
  const payload = Buffer.from(benchPayload(version), "utf8");
  return encodeMessage(ConfigEntry, {
    payload,
    contentType: "application/json",
    sha256: createHash("sha256").update(payload).digest("hex"),
    sourcePath: `${key}.json`,
    changeSetId: `bench-${version}`,
    changeSetSize: 1,
    updatedAtMs: Date.now(),
    key,
    publishedBy: "bench:propagation",
  });
}

/**
 * What a watcher without the SDK must do with each value: decode the ConfigEntry, parse the JSON
 * payload, validate it with its schema. Throws on anything malformed.
 */
export function decodeBenchEntry(bytes: Uint8Array, schema: BenchSchema): BenchConfig {
  const entry = decodeMessage(ConfigEntry, bytes);
  const json: unknown = JSON.parse(Buffer.from(entry.payload).toString("utf8"));
  return schema.parse(json);
}
