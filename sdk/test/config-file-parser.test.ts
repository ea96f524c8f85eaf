import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { parseConfigBytes, readConfigFile } from "../src/config-files/config-file-parser";

const utf8 = (s: string): Uint8Array => Buffer.from(s, "utf8");
const MAX = 1024 * 1024;

function ok(text: string | Uint8Array, format: "json" | "yaml") {
  const r = parseConfigBytes(typeof text === "string" ? utf8(text) : text, format, MAX);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.problem)}`);
  return r.config;
}

function bad(text: string | Uint8Array, format: "json" | "yaml", max = MAX) {
  const r = parseConfigBytes(typeof text === "string" ? utf8(text) : text, format, max);
  if (r.ok) throw new Error("expected a problem");
  return r;
}

describe("parseConfigBytes", () => {
  it("turns JSON into a canonical payload (sorted keys, no white space) with its sha256", () => {
    const c = ok('{ "b": 2,\n  "a": {"z": true, "y": [1, "x", null]} }\n', "json");
    const payload = Buffer.from(c.payload).toString("utf8");
    expect(payload).toBe('{"a":{"y":[1,"x",null],"z":true},"b":2}');
    expect(c.sha256).toBe(createHash("sha256").update(payload).digest("hex"));
    expect(c.format).toBe("json");
  });

  it("gives YAML and the equivalent JSON the same payload", () => {
    const y = ok("b: 2\na:\n  z: true\n  y: [1, x, ~]\n", "yaml");
    const j = ok('{"a":{"z":true,"y":[1,"x",null]},"b":2}', "json");
    expect(y.sha256).toBe(j.sha256);
    expect(y.format).toBe("yaml");
  });

  it("accepts a UTF-8 BOM and non-ASCII text", () => {
    const c = ok('\ufeff{"name": "Zoë 🚀"}', "json");
    expect(JSON.parse(Buffer.from(c.payload).toString("utf8"))).toEqual({ name: "Zoë 🚀" });
  });

  it.each([
    ['{"a": 1,\n "b": }', 2, 7, /expected a value/],
    ['{"a": 1\n "b": 2}', 2, 2, /expected ',' or '}'/],
    ['{"a": [1, 2,]}', 1, 13, /trailing comma/],
    ['{\n  "a": "unterminated\n}', 2, 21, /control character/],
    ["{'a': 1}", 1, 2, /property name in quotes/],
    ['{"a": 1} x', 1, 10, /after the value/],
    ['{"a": 01}', 1, 8, /bad number/],
  ])("reports JSON syntax errors with line and column: %j", (text, line, column, reason) => {
    const r = bad(text, "json");
    expect(r.problem).toMatchObject({ code: "syntax", line, column });
    expect(r.problem.reason).toMatch(/^invalid JSON: /);
    expect(r.problem.reason).toMatch(reason);
    expect(r.fingerprint).toBe(createHash("sha256").update(text).digest("hex"));
  });

  it.each([
    ["a: 1\nb: [1, 2\nc: 3\n", 2, 4],
    ["a: 1\na: 2\n", 2, 1],
    ["a: 1\n---\nb: 2\n", 2, 1],
    ["a:\n  - x\n y: 2\n", 3, 1],
  ])("reports YAML syntax errors with line and column: %j", (text, line, column) => {
    const r = bad(text, "yaml");
    expect(r.problem).toMatchObject({ code: "syntax", line, column });
    expect(r.problem.reason).toMatch(/^invalid YAML: /);
    expect(r.problem.reason).not.toMatch(/at line/);
  });

  it("refuses bytes that are not UTF-8 and says where", () => {
    const bytes = Buffer.concat([utf8('{"a":\n "caf'), Buffer.from([0xe9]), utf8('"}')]);
    const r = bad(bytes, "json");
    expect(r.problem).toMatchObject({ code: "encoding", line: 2, column: 6 });
    expect(r.problem.reason).toMatch(/not UTF-8: invalid byte 0xe9 at offset 11/);
  });

  it("refuses overlong encodings and surrogates", () => {
    expect(bad(Buffer.from([0x22, 0xc0, 0xaf, 0x22]), "json").problem.code).toBe("encoding");
    expect(bad(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), "json").problem.code).toBe("encoding");
  });

  it("refuses empty files, which are usually a save caught half-way", () => {
    expect(bad("  \n", "yaml").problem).toMatchObject({ code: "syntax", reason: "file is empty" });
    expect(bad("", "json").problem.code).toBe("syntax");
  });

  it("refuses values JSON cannot carry exactly instead of changing them", () => {
    expect(bad("x: .inf\n", "yaml").problem.reason).toMatch(/\/x: Infinity has no JSON form/);
    expect(bad('{"id": 12345678901234567890}', "json").problem.reason).toMatch(
      /\/id: number .* beyond 2\^53/,
    );
  });

  it("refuses content over the size limit", () => {
    expect(bad('{"a": "0123456789"}', "json", 10).problem).toMatchObject({ code: "size" });
  });

  it("keeps a __proto__ key as data", () => {
    const c = ok('{"__proto__": {"x": 1}}', "json");
    expect(Buffer.from(c.payload).toString("utf8")).toBe('{"__proto__":{"x":1}}');
  });
});

describe("readConfigFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "kon-parse-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a regular file", async () => {
    writeFileSync(join(dir, "a.json"), "{}");
    const r = await readConfigFile(join(dir, "a.json"), 100);
    expect(r.kind).toBe("bytes");
  });

  it("refuses a file over the limit without reading it", async () => {
    writeFileSync(join(dir, "big.json"), "x".repeat(101));
    const r = await readConfigFile(join(dir, "big.json"), 100);
    expect(r).toMatchObject({ kind: "problem", problem: { code: "size" } });
  });

  it("says 'vanished' for a missing file, and names a broken symlink", async () => {
    expect(await readConfigFile(join(dir, "nope.json"), 100)).toEqual({ kind: "vanished" });
    symlinkSync(join(dir, "target-missing.json"), join(dir, "link.json"));
    const r = await readConfigFile(join(dir, "link.json"), 100);
    expect(r).toMatchObject({ kind: "problem", problem: { code: "io" } });
    if (r.kind === "problem") expect(r.problem.reason).toMatch(/broken symbolic link/);
  });

  it("never blocks on a FIFO", async () => {
    execFileSync("mkfifo", [join(dir, "fifo.json")]);
    const r = await readConfigFile(join(dir, "fifo.json"), 100);
    expect(r).toMatchObject({
      kind: "problem",
      problem: { code: "io", reason: "not a regular file" },
    });
  });
});
