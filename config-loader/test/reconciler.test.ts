import { planGroup, splitChangeSet } from "../src/reconciler";

const cur = (entries: Record<string, string>) =>
  new Map(
    Object.entries(entries).map(([k, sha], i) => [
      k,
      { sha256: sha, revision: i + 1, gitCommit: "" },
    ]),
  );
const rules = { protectedKeys: new Set<string>(), keepDeleted: false, allowDeletes: true };

describe("planGroup", () => {
  it("puts new and changed keys, skips equal ones, deletes keys without a file", () => {
    const plan = planGroup(
      [
        { key: "b", sha256: "2" },
        { key: "a", sha256: "1" },
        { key: "c", sha256: "3-new" },
      ],
      cur({ a: "1", c: "3", gone: "9" }),
      rules,
    );
    expect(plan.puts.map((p) => p.key)).toEqual(["b", "c"]);
    expect(plan.deletes).toEqual(["gone"]);
    expect(plan.unchanged).toBe(1);
    expect(plan.kept).toEqual([]);
  });

  it("never deletes protected keys (rejected or unreadable files)", () => {
    const plan = planGroup([], cur({ bad: "1", gone: "2" }), {
      ...rules,
      protectedKeys: new Set(["bad"]),
    });
    expect(plan.deletes).toEqual(["gone"]);
    expect(plan.kept).toEqual([]);
  });

  it("keeps keys without a file with keepDeleted or after an incomplete scan", () => {
    expect(planGroup([], cur({ gone: "2" }), { ...rules, keepDeleted: true })).toMatchObject({
      deletes: [],
      kept: ["gone"],
    });
    expect(planGroup([], cur({ gone: "2" }), { ...rules, allowDeletes: false })).toMatchObject({
      deletes: [],
      kept: ["gone"],
    });
  });

  it("republishes a key whose stored value could not be decoded (sha '')", () => {
    const plan = planGroup([{ key: "a", sha256: "1" }], cur({ a: "" }), rules);
    expect(plan.puts.map((p) => p.key)).toEqual(["a"]);
  });
});

describe("splitChangeSet", () => {
  it("keeps a set within the limit whole", () => {
    const parts = splitChangeSet(
      "cs",
      Array.from({ length: 1000 }, (_, i) => i),
    );
    expect(parts).toHaveLength(1);
    expect(parts[0]!.id).toBe("cs");
    expect(parts[0]!.messages).toHaveLength(1000);
  });

  it("cuts a larger set into complete sets of their own", () => {
    const parts = splitChangeSet(
      "cs",
      Array.from({ length: 2001 }, (_, i) => i),
    );
    expect(parts.map((p) => [p.id, p.messages.length])).toEqual([
      ["cs.1of3", 1000],
      ["cs.2of3", 1000],
      ["cs.3of3", 1],
    ]);
    expect(parts.flatMap((p) => p.messages)).toEqual(Array.from({ length: 2001 }, (_, i) => i));
  });
});
