import { jsonDiff } from "../src/config-api/json-diff";

describe("jsonDiff", () => {
  it("equal values, whatever their key order, give no change", () => {
    expect(jsonDiff({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toEqual([]);
  });

  it("names added, removed and changed paths as JSON Pointers, escaping ~ and /", () => {
    expect(
      jsonDiff(
        { "a/b": 1, "t~": true, keep: "x", list: [1, 2, 3] },
        { "a/b": 2, keep: "x", list: [1, 9], new: { deep: 1 } },
      ),
    ).toEqual([
      { op: "changed", path: "/a~1b", old: 1, value: 2 },
      { op: "changed", path: "/list/1", old: 2, value: 9 },
      { op: "removed", path: "/list/2", old: 3 },
      { op: "added", path: "/new", value: { deep: 1 } },
      { op: "removed", path: "/t~0", old: true },
    ]);
  });

  it("a change of type is one change at that path; the whole value is path ''", () => {
    expect(jsonDiff({ a: [1] }, { a: { 0: 1 } })).toEqual([
      { op: "changed", path: "/a", old: [1], value: { 0: 1 } },
    ]);
    expect(jsonDiff(null, {})).toEqual([{ op: "changed", path: "", old: null, value: {} }]);
    expect(jsonDiff(null, null)).toEqual([]);
    expect(jsonDiff(1, "1")).toEqual([{ op: "changed", path: "", old: 1, value: "1" }]);
  });
});
