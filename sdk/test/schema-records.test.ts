import { liveSchemaRecords, parseSchemaRecords, withSchemaRecord } from "../src/wire/schema-record";
import type { SchemaRecord } from "../src/wire/schema-record";

const rec = (service: string, max: number, at: number): SchemaRecord => ({
  schema: { type: "object", properties: { port: { type: "integer", maximum: max } } },
  service,
  nodeId: "n",
  registeredAtMs: at,
});
const GRACE = 1000;

describe("kon_schemas registrations (issue 11 item 11)", () => {
  it("a second service adds its schema next to the first instead of replacing it", () => {
    const one = withSchemaRecord([], rec("a", 10, 1), GRACE)!;
    const two = withSchemaRecord(one, rec("b", 20, 2), GRACE)!;
    expect(two.map((r) => r.service)).toEqual(["a", "b"]);
    expect(liveSchemaRecords(two, 10_000, GRACE)).toHaveLength(2);
  });

  it("skips the write when the service's newest registration is already this schema", () => {
    const one = withSchemaRecord([], rec("a", 10, 1), GRACE)!;
    expect(withSchemaRecord(one, rec("a", 10, 5), GRACE)).toBeUndefined();
  });

  it("keeps a service's older version live for the grace period, then drops it", () => {
    const v1 = withSchemaRecord([], rec("a", 10, 0), GRACE)!;
    const v2 = withSchemaRecord(v1, rec("a", 20, 100), GRACE)!;
    expect(v2).toHaveLength(2);
    expect(liveSchemaRecords(v2, 100 + GRACE - 1, GRACE)).toHaveLength(2);
    expect(liveSchemaRecords(v2, 100 + GRACE, GRACE).map((r) => r.registeredAtMs)).toEqual([100]);
    // A rollback registers v1 again: it becomes the newest.
    const back = withSchemaRecord(v2, rec("a", 10, 200), GRACE)!;
    expect(liveSchemaRecords(back, 200 + GRACE, GRACE)).toEqual([rec("a", 10, 200)]);
  });

  it("reads the list form and the single-record form of older writers", () => {
    const list = JSON.stringify({ registrations: [rec("a", 1, 1), { nope: 1 }, rec("b", 2, 2)] });
    expect(parseSchemaRecords(list).map((r) => r.service)).toEqual(["a", "b"]);
    expect(parseSchemaRecords(JSON.stringify(rec("old", 1, 1)))).toHaveLength(1);
    expect(() => parseSchemaRecords('{"registrations":[{"x":1}]}')).toThrow(/no registration/);
  });
});
