// Issue 11, items 1, 2 and 8: hostile and real-world files give a value or a refusal about that
// file alone, in a config author's words, with line and column.
import { parseConfigBytes } from "../src/config-files/config-file-parser";
import { MAX_NESTING, MAX_YAML_ITEMS } from "../src/config-files/yaml-reader";

const MAX = 1024 * 1024;

function read(text: string, format: "json" | "yaml") {
  return parseConfigBytes(Buffer.from(text, "utf8"), format, MAX);
}

function value(text: string, format: "json" | "yaml"): unknown {
  const r = read(text, format);
  if (!r.ok) throw new Error(`expected a value, got ${JSON.stringify(r.problem)}`);
  return r.config.value;
}

function problem(text: string, format: "json" | "yaml") {
  const r = read(text, format);
  if (r.ok) throw new Error(`expected a refusal, got ${Buffer.from(r.config.payload).toString()}`);
  return r.problem;
}

describe("deep nesting is a refusal of that file, never an exception", () => {
  it.each([
    ["JSON arrays 10,000 deep", "[".repeat(10_000) + "]".repeat(10_000), "json"],
    ["JSON objects 10,000 deep", '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000), "json"],
    ["YAML flow 10,000 deep", "[".repeat(10_000) + "]".repeat(10_000), "yaml"],
    ["YAML '- ' 20,000 deep", "- ".repeat(20_000) + "x\n", "yaml"],
  ] as const)("%s", (_name, text, format) => {
    const p = problem(text, format);
    expect(p.code).toBe("syntax");
    expect(p.reason).toMatch(new RegExp(`nested more than ${MAX_NESTING} levels deep`));
    expect(p.line).toBe(1);
  });

  it("accepts nesting up to the limit", () => {
    const depth = MAX_NESTING;
    const nest = (d: number): string => '{"a":'.repeat(d) + "1" + "}".repeat(d);
    expect(read(nest(depth), "json").ok).toBe(true);
    expect(read(nest(depth + 1), "json").ok).toBe(false);
    // A top-level array counts like an object: the same limit for any value.
    expect(read("[".repeat(depth) + "]".repeat(depth), "json").ok).toBe(true);
    expect(read("[".repeat(depth + 1) + "]".repeat(depth + 1), "json").ok).toBe(false);
  });
});

describe("YAML size in items", () => {
  it("refuses a 100,000-key file (1 MiB) with advice instead of parsing it for seconds", () => {
    let text = "";
    for (let i = 0; text.length < MAX - 32; i++) text += `k${i}: ${i % 10}\n`;
    const p = problem(text, "yaml");
    expect(p.code).toBe("size");
    expect(p.reason).toMatch(
      new RegExp(`the limit is ${MAX_YAML_ITEMS}: split it into several files or write it as JSON`),
    );
  });

  it("parses a file just under the item limit", () => {
    let text = "";
    for (let i = 0; i < MAX_YAML_ITEMS - 10; i++) text += `k${i}: ${i}\n`;
    const v = value(text, "yaml") as Record<string, number>;
    expect(Object.keys(v)).toHaveLength(MAX_YAML_ITEMS - 10);
  });

  it("does not count lines of a block scalar as items", () => {
    const body = Array.from({ length: MAX_YAML_ITEMS + 10 }, (_, i) => `  line ${i}`).join("\n");
    const v = value(`text: |\n${body}\nafter: 1\n`, "yaml") as { text: string; after: number };
    expect(v.after).toBe(1);
    expect(v.text.split("\n")).toHaveLength(MAX_YAML_ITEMS + 11);
  });
});

describe("YAML the way config authors write it", () => {
  it("applies merge keys (<<: *base) instead of publishing a '<<' key", () => {
    const text = "base: &base\n  host: db\n  port: 5432\nsvc:\n  <<: *base\n  port: 6432\n";
    expect(value(text, "yaml")).toEqual({
      base: { host: "db", port: 5432 },
      svc: { host: "db", port: 6432 },
    });
  });

  it.each([
    ["items:\n  - {name: a,\n  value: 1}\n", { items: [{ name: "a", value: 1 }] }],
    ["items:\n- name: x\n  env: {A: 1,\n B: 2}\n", { items: [{ name: "x", env: { A: 1, B: 2 } }] }],
    ["list:\n  - [1,\n  2]\n", { list: [[1, 2]] }],
  ])("accepts an under-indented flow collection, whose brackets are unambiguous: %j", (t, v) => {
    expect(value(t, "yaml")).toEqual(v);
  });

  it("says which bracket is never closed, where", () => {
    const p = problem("a: 1\nb: [1, 2\nc: 3\n", "yaml");
    expect(p).toMatchObject({ code: "syntax", line: 2, column: 4 });
    expect(p.reason).toBe("invalid YAML: this '[' is never closed");
  });

  it("names a repeated key and every line it is on", () => {
    const p = problem("a: 1\nb:\n  x: 1\na: 2\nc: 3\na: 4\n", "yaml");
    expect(p).toMatchObject({ code: "syntax", line: 4, column: 1 });
    expect(p.reason).toBe(
      'invalid YAML: key "a" appears 3 times in one mapping (lines 1, 4, 6); keep one',
    );
  });

  it("refuses a repeated key in JSON too (JSON.parse would keep the last silently)", () => {
    const p = problem('{\n  "a": 1,\n  "b": {"a": 2},\n  "\\u0061": 3\n}\n', "json");
    expect(p).toMatchObject({ code: "syntax", line: 4, column: 3 });
    expect(p.reason).toBe(
      'invalid JSON: key "a" appears 2 times in one object (lines 2, 4); keep one',
    );
    expect(read('{"a": {"x": 1}, "b": {"x": 2}}', "json").ok).toBe(true);
  });

  it("says 'one document per file' for a multi-document file", () => {
    const p = problem("a: 1\n---\nb: 2\n", "yaml");
    expect(p).toMatchObject({ code: "syntax", line: 2, column: 1 });
    expect(p.reason).toMatch(/^invalid YAML: one document per file/);
    expect(p.reason).not.toMatch(/parseAllDocuments/);
  });

  it("refuses a file of only comments instead of publishing null", () => {
    const p = problem("# all of this\n# is commented out\n", "yaml");
    expect(p.code).toBe("syntax");
    expect(p.reason).toMatch(/holds no value, only comments/);
    expect(p.reason).toMatch(/write null or \{\} if an empty value is meant/);
    expect(value("~\n", "yaml")).toBeNull();
  });

  it.each([
    ["[1, 2, 3]", "json", [1, 2, 3]],
    ["42", "yaml", 42],
    ["null", "yaml", null],
    ["~", "yaml", null],
    ['"str"', "json", "str"],
    ["true", "json", true],
    ["- a\n- b\n", "yaml", ["a", "b"]],
    ["[{b: 1, a: 2}]", "yaml", [{ a: 2, b: 1 }]],
  ] as const)(
    "accepts any JSON value at the top level (H6, wire contract §3.1): %j",
    (text, format, want) => {
      const r = read(text, format);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.config.value).toEqual(want);
      // The same canonical JSON as any other value: what the loader publishes and the SDK reads.
      expect(Buffer.from(r.config.payload).toString()).toBe(JSON.stringify(want));
    },
  );

  it.each([
    ["a:\n\tb: 1\n", 2, 1, /a tab is used for indentation/],
    ["a: 1\njust text\n", 2, 1, /neither 'key: value' nor a '- ' list item/],
    ["a:\n  b: 1\n c: 2\n", 3, 1, /indented differently/],
  ])("puts parser errors in a config author's words: %j", (t, line, column, reason) => {
    const p = problem(t, "yaml");
    expect(p).toMatchObject({ code: "syntax", line, column });
    expect(p.reason).toMatch(reason);
  });
});
