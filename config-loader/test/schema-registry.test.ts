import { z } from "zod";
import { compileSchema } from "../src/schema-registry";
import { locateValue } from "../src/value-locator";

describe("compileSchema", () => {
  const schema = z.toJSONSchema(
    z.object({
      db: z.object({ host: z.string(), port: z.number().int().max(65535) }),
      url: z.url().optional(),
    }),
    { io: "input" },
  ) as Record<string, unknown>;

  it("accepts a conforming value and reports violations with a JSON Pointer", () => {
    const c = compileSchema(schema);
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
    expect(compileSchema(schema).id).toBe(compileSchema({ ...schema }).id);
    expect(compileSchema(schema).id).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("locateValue", () => {
  it("finds a value in YAML and in JSON by pointer, else its nearest ancestor", () => {
    expect(locateValue("db:\n  host: h\n  port: 70000\n", "/db/port")).toEqual({
      line: 3,
      column: 9,
    });
    expect(locateValue('{\n  "db": {"host": "h", "port": 70000}\n}', "/db/port")).toEqual({
      line: 2,
      column: 31,
    });
    expect(locateValue("list:\n  - a\n  - b\n", "/list/1")).toEqual({ line: 3, column: 5 });
    expect(locateValue("db:\n  port: 1\n", "/db/host")).toEqual({ line: 2, column: 3 });
    expect(locateValue("8080: x\n", "/8080")).toEqual({ line: 1, column: 7 });
  });
});
