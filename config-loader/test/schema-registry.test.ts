// compileSchema moved to the sdk (compileJsonSchema): sdk/test/json-schema-validator.test.ts.
import { locateValue } from "../src/value-locator";

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
