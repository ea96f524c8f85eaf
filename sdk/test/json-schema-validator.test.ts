import { z } from "zod";
import { JsonSchemaCache, compileJsonSchema, schemaViolations } from "../src/internal";
import type { SchemaRecord } from "../src/internal";

/**
 * The admin's config API (schemaViolations over a key's registrations) and the config-loader
 * (KvSchemaRegistry, which compiles through JsonSchemaCache) must answer alike for every document:
 * each case runs through both entry points and expects the same verdict and pointers.
 */
type Case = [
  name: string,
  schema: Record<string, unknown>,
  good: unknown,
  bad: unknown,
  at: string,
];

const cases: Case[] = [
  ["format json-pointer", str("json-pointer"), "/a/b", "a/b", "/v"],
  ["format regex", str("regex"), "^a+$", "(", "/v"],
  ["format email", str("email"), "ops@example.com", "a@b", "/v"],
  ["format uri", str("uri"), "https://example.com/x", "http//x", "/v"],
  ["format date-time", str("date-time"), "2026-01-02T03:04:05Z", "yesterday", "/v"],
  ["format date", str("date"), "2026-02-28", "2026-02-30", "/v"],
  ["format ipv4", str("ipv4"), "10.0.0.1", "999.1.1.1", "/v"],
  ["format uuid", str("uuid"), "123e4567-e89b-12d3-a456-426614174000", "123", "/v"],
  [
    "format int32",
    { type: "object", properties: { v: { type: "integer", format: "int32" } } },
    { v: 7 },
    { v: 2 ** 40 },
    "/v",
  ],
  [
    "pattern",
    { type: "object", properties: { v: { type: "string", pattern: "^[a-z]+$" } } },
    { v: "abc" },
    { v: "ABC" },
    "/v",
  ],
  [
    "$ref into $defs",
    {
      type: "object",
      properties: { port: { $ref: "#/$defs/port" } },
      $defs: { port: { type: "integer", minimum: 1, maximum: 65535 } },
    },
    { port: 8080 },
    { port: 70000 },
    "/port",
  ],
  [
    "prefixItems with items: false",
    {
      type: "object",
      properties: { v: { type: "array", prefixItems: [{ type: "string" }], items: false } },
    },
    { v: ["a"] },
    { v: ["a", 1] },
    "/v",
  ],
  [
    "unevaluatedProperties",
    { type: "object", properties: { a: {} }, unevaluatedProperties: false },
    { a: 1 },
    { a: 1, b: 2 },
    "",
  ],
  [
    "dependentRequired (missing property at its own pointer)",
    { type: "object", dependentRequired: { tls: ["ca"] } },
    { tls: true, ca: "x" },
    { tls: true },
    "/ca",
  ],
  [
    "if / then",
    { type: "object", if: { properties: { mode: { const: "tls" } } }, then: { required: ["ca"] } },
    { mode: "plain" },
    { mode: "tls" },
    "/ca",
  ],
  [
    "contains / minContains",
    {
      type: "object",
      properties: { v: { type: "array", contains: { const: 3 }, minContains: 2 } },
    },
    { v: [3, 3] },
    { v: [3] },
    "/v",
  ],
  [
    "required with a key that needs pointer escaping",
    { type: "object", required: ["a/b"] },
    { "a/b": 1 },
    {},
    "/a~1b",
  ],
];

function str(format: string): Record<string, unknown> {
  return { type: "object", properties: { v: { type: "string", format } } };
}

function record(schema: Record<string, unknown>): SchemaRecord {
  return { schema, service: "svc", nodeId: "n1", registeredAtMs: 1 };
}

describe("the one JSON Schema rule (loader and admin)", () => {
  const loader = new JsonSchemaCache();

  it.each(cases)(
    "%s: both accept the good document and refuse the bad one",
    (_n, schema, good, bad, at) => {
      const compiled = loader.get(schema);
      if (compiled instanceof Error) throw compiled;
      const wrapped = (v: unknown): unknown => (typeof v === "string" ? { v } : v);
      expect(compiled.validate(wrapped(good))).toEqual([]);
      expect(schemaViolations([record(schema)], wrapped(good))).toEqual({
        violations: [],
        unreadable: [],
      });

      const byLoader = compiled.validate(wrapped(bad));
      const byAdmin = schemaViolations([record(schema)], wrapped(bad));
      expect(byLoader.length).toBeGreaterThan(0);
      expect(byLoader.map((v) => v.path)).toContain(at);
      expect(byAdmin.unreadable).toEqual([]);
      expect(byAdmin.violations).toEqual(byLoader.map((v) => ({ service: "svc", ...v })));
    },
  );

  it("says why: the message names the broken keyword", () => {
    const [v] = compileJsonSchema(str("json-pointer")).validate({ v: "a/b" });
    expect(v).toEqual({ path: "/v", message: 'must match format "json-pointer"' });
  });

  it("reads what zod emits, and reports violations with a JSON Pointer", () => {
    const schema = z.toJSONSchema(
      z.object({
        db: z.object({ host: z.string(), port: z.number().int().max(65535) }),
        url: z.url().optional(),
      }),
      { io: "input" },
    ) as Record<string, unknown>;
    const c = compileJsonSchema(schema);
    expect(c.validate({ db: { host: "h", port: 5432 } })).toEqual([]);
    const v = c.validate({ db: { host: "h", port: 70000 } });
    expect(v[0]).toMatchObject({ path: "/db/port" });
    expect(v[0]!.message).toMatch(/<= 65535/);
    expect(c.validate({ db: { port: 1 } })[0]).toMatchObject({ path: "/db/host" });
    expect(c.validate({ db: { host: "h", port: 1 }, url: "not a url" })[0]).toMatchObject({
      path: "/url",
    });
  });

  it("identifies a schema by its content", () => {
    const schema = str("uri");
    expect(compileJsonSchema(schema).id).toBe(compileJsonSchema({ ...schema }).id);
    expect(compileJsonSchema(schema).id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("skips a schema that does not compile, in both places, and says which", () => {
    const broken = { type: "object", properties: { v: { type: "no-such-type" } } };
    expect(loader.get(broken)).toBeInstanceOf(Error);
    const r = schemaViolations([record(broken), record(str("uri"))], { v: "http//x" });
    expect(r.unreadable).toHaveLength(1);
    expect(r.unreadable[0]).toMatch(/^svc: /);
    expect(r.violations).toEqual([
      { service: "svc", path: "/v", message: 'must match format "uri"' },
    ]);
  });
});
