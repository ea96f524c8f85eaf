import { keyForPath, pathStemForKey } from "../src/config-files/key-mapper";

describe("keyForPath", () => {
  it.each([
    ["service1.json", "service1", "json"],
    ["service1.yaml", "service1", "yaml"],
    ["service1.YML", "service1", "yaml"],
    ["service1/db.yaml", "service1.db", "yaml"],
    ["a/b/c_d-E=1.json", "a.b.c_d-E=1", "json"],
  ])("maps %s to key %s", (path, key, format) => {
    expect(keyForPath(path)).toEqual({ kind: "file", key, format });
  });

  it.each([
    ".hidden.json",
    ".git/config.json",
    "a/.a.json.swp",
    "a.json~",
    "notes.md",
    "a.json.tmp",
    "4913",
    "README",
  ])("ignores %s (hidden, backup, temp or not config)", (path) => {
    expect(keyForPath(path)).toEqual({ kind: "ignored" });
  });

  it.each([
    ["my service.json", /file name "my service" is not a valid key segment/],
    ["a.b.json", /file name "a.b" contains '\.'/],
    ["v1.2/db.json", /folder "v1.2" contains '\.'/],
    ["bad*dir/db.json", /folder "bad\*dir"/],
    [`${"x".repeat(300)}.json`, /length must be 1-255/],
  ])("rejects %s with a reason", (path, reason) => {
    const m = keyForPath(path);
    expect(m.kind).toBe("invalid");
    if (m.kind === "invalid") expect(m.reason).toMatch(reason);
  });

  it("maps keys back to path stems", () => {
    expect(pathStemForKey("service1.db")).toBe("service1/db");
    expect(() => pathStemForKey("a..b")).toThrow(/empty segment/);
  });
});
